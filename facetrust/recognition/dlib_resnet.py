"""dlib's ResNet face recognition model (``dlib_face_recognition_resnet_model_v1.dat``)."""
from __future__ import annotations

from typing import ClassVar, Sequence

import numpy as np

from facetrust.detection.landmarks import dlib_shape5
from facetrust.recognition.base import l2_normalize
from facetrust.registry import Option
from facetrust.types import Detection
from facetrust.zoo import model_file


class DlibResNetRecognizer:
    """Aligns with dlib's own 150x150 face chip (5-point shape, padding 0.25)
    exactly as dlib's model was trained. ``num_jitters`` > 1 averages randomly
    jittered copies (slower, slightly more accurate)."""

    name = "dlib-resnet"
    dim = 128
    metric = "cosine"
    calibration = "dlib-resnet"
    zoo_models = ("dlib-resnet", "dlib-shape5")
    #: Each jitter is one more forward pass per face; dlib's own examples stop at 100.
    OPTIONS: ClassVar[dict[str, Option]] = {"num_jitters": Option(int, 0, 100)}

    def __init__(self, num_jitters: int = 0) -> None:
        import dlib

        self._model = dlib.face_recognition_model_v1(str(model_file(self.zoo_models[0])))
        self.num_jitters = num_jitters

    def align(self, image: np.ndarray, detection: Detection) -> np.ndarray:
        import dlib

        return dlib.get_face_chip(image, dlib_shape5(image, detection.box), size=150, padding=0.25)

    def embed_aligned(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        if len(crops) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        chips = [np.ascontiguousarray(c, dtype=np.uint8) for c in crops]
        descriptors = self._model.compute_face_descriptor(chips, self.num_jitters)
        return l2_normalize(np.array(descriptors))
