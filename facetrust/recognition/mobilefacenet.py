"""MobileFaceNet (foamliu, ONNX): 112x112 ArcFace-aligned RGB, ImageNet normalisation, 128-d."""
from __future__ import annotations

from typing import ClassVar, Sequence

import numpy as np

from facetrust.alignment import align_arcface
from facetrust.recognition.base import l2_normalize
from facetrust.registry import Option
from facetrust.runtime import onnx_session
from facetrust.types import Detection
from facetrust.zoo import model_file

_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


class MobileFaceNetRecognizer:
    """``flip=True`` adds the embedding of the mirrored crop before normalising
    (the usual test-time augmentation; 2x cost, better accuracy)."""

    name = "mobilefacenet"
    dim = 128
    metric = "cosine"
    calibration = "mobilefacenet"
    zoo_models = ("mobilefacenet",)
    OPTIONS: ClassVar[dict[str, Option]] = {"flip": Option(bool), "device": Option(str)}

    def __init__(self, flip: bool = True, device: str = "cpu") -> None:
        self._session = onnx_session(model_file(self.zoo_models[0]), device)
        self._input = self._session.get_inputs()[0].name
        self.device = device
        self.flip = flip

    @property
    def provider(self) -> str:
        return self._session.get_providers()[0]

    def align(self, image: np.ndarray, detection: Detection) -> np.ndarray:
        if detection.landmarks is None:
            raise ValueError("mobilefacenet needs 5 landmarks to align")
        return align_arcface(image, detection.landmarks, 112)

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        # The exported graph has a fixed batch dimension of 1.
        return np.concatenate([self._session.run(None, {self._input: item[None]})[0] for item in batch])

    def embed_aligned(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        if len(crops) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        batch = (np.stack(crops).astype(np.float32) / 255.0 - _MEAN) / _STD
        batch = np.ascontiguousarray(batch.transpose(0, 3, 1, 2))
        features = self._forward(batch)
        if self.flip:
            features = features + self._forward(np.ascontiguousarray(batch[:, :, :, ::-1]))
        return l2_normalize(features)
