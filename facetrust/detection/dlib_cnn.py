"""dlib's MMOD CNN face detector (``mmod_human_face_detector.dat`` from face-recognition-models)."""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from facetrust.detection.base import downscale_for_detection, rescale, sort_by_area
from facetrust.detection.dlib_common import rects_to_detections
from facetrust.detection.landmarks import SHAPE5_NOSE_POINT
from facetrust.registry import Option
from facetrust.types import Detection
from facetrust.zoo import model_file


class DlibCnnDetector:
    """More robust to pose than HOG, ~50x slower on a CPU. ``upsample`` as for
    dlib-hog (default 0 here: at 1 it costs seconds per photo)."""

    name = "dlib-cnn"
    provides_landmarks = False
    nose_point = SHAPE5_NOSE_POINT
    zoo_models = ("dlib-cnn",)
    OPTIONS: ClassVar[dict[str, Option]] = {"upsample": Option(int, 0, 2), "max_side": Option(int, 80, 4096)}

    def __init__(self, upsample: int = 0, max_side: int | None = 1280) -> None:
        import dlib

        self._detector = dlib.cnn_face_detection_model_v1(str(model_file("dlib-cnn")))
        self.upsample = upsample
        self.max_side = max_side

    def detect(self, image: np.ndarray) -> list[Detection]:
        small, scale = downscale_for_detection(image, self.max_side)
        found = self._detector(small, self.upsample)
        dets = rects_to_detections([m.rect for m in found], [m.confidence for m in found], small.shape)
        return sort_by_area(rescale(dets, scale))
