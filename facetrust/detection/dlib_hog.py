"""dlib's HOG + linear SVM frontal face detector (ships in dlib-bin)."""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from facetrust.detection.base import downscale_for_detection, rescale, sort_by_area
from facetrust.detection.dlib_common import rects_to_detections
from facetrust.detection.landmarks import SHAPE5_NOSE_POINT
from facetrust.registry import Option
from facetrust.types import Detection


class DlibHogDetector:
    """``upsample=None`` (default) runs at native scale and upsamples once only
    when no face is found there: the HOG window is 80x80 px, so faces smaller
    than that need ``upsample=1`` (40 px) or ``2`` (20 px), at 4x / 16x the cost.
    Scores are the SVM margins (higher = more confident; 0 is the default cut)."""

    name = "dlib-hog"
    provides_landmarks = False
    nose_point = SHAPE5_NOSE_POINT
    zoo_models = ("dlib-hog",)
    #: upsample 2 already runs HOG on a 4000x4000 image for max_side 2000; each step is 4x time and memory.
    OPTIONS: ClassVar[dict[str, Option]] = {
        "upsample": Option(int, 0, 2, optional=True),
        "threshold": Option(float, -10.0, 10.0),
        "max_side": Option(int, 80, 8192),
    }

    def __init__(self, upsample: int | None = None, threshold: float = 0.0, max_side: int | None = 2000) -> None:
        import dlib

        self._detector = dlib.get_frontal_face_detector()
        self.upsample = upsample
        self.threshold = threshold
        self.max_side = max_side

    def _run(self, image: np.ndarray, upsample: int) -> list[Detection]:
        rects, scores, _ = self._detector.run(image, upsample, self.threshold)
        return rects_to_detections(rects, scores, image.shape)

    def detect(self, image: np.ndarray) -> list[Detection]:
        small, scale = downscale_for_detection(image, self.max_side)
        if self.upsample is not None:
            found = self._run(small, self.upsample)
        else:
            found = self._run(small, 0) or self._run(small, 1)
        return sort_by_area(rescale(found, scale))
