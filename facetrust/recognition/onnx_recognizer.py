"""What the ONNX ArcFace-style recognizers share: a 112x112 ArcFace-aligned crop,
a per-model affine normalisation, batched inference and optional flip-sum."""
from __future__ import annotations

from typing import ClassVar, Sequence

import numpy as np

from facetrust.alignment import align_arcface
from facetrust.recognition.base import l2_normalize
from facetrust.registry import Option
from facetrust.runtime import onnx_session
from facetrust.types import Detection
from facetrust.zoo import model_file


class OnnxArcFaceRecognizer:
    """Subclasses set ``name`` (= zoo model), ``dim``, ``channels`` ("RGB"/"BGR") and the
    normalisation ``(pixel - mean) / std`` applied to 0..255 values. ``flip=True`` adds
    the embedding of the mirrored crop before normalising (2x cost)."""

    name: str
    dim: int
    metric = "cosine"
    size = 112
    channels = "RGB"
    mean: float | np.ndarray = 127.5
    std: float | np.ndarray = 127.5
    OPTIONS: ClassVar[dict[str, Option]] = {"flip": Option(bool), "device": Option(str)}

    def __init__(self, flip: bool = False, device: str = "cpu") -> None:
        self._session = onnx_session(model_file(self.name), device)
        first = self._session.get_inputs()[0]
        self._input = first.name
        # Exports with a fixed batch of 1 are run one crop at a time.
        self._batched = not isinstance(first.shape[0], int)
        self.device = device
        self.flip = flip

    @property
    def provider(self) -> str:
        return self._session.get_providers()[0]

    def align(self, image: np.ndarray, detection: Detection) -> np.ndarray:
        if detection.landmarks is None:
            raise ValueError(f"{self.name} needs 5 landmarks to align")
        return align_arcface(image, detection.landmarks, self.size)

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        if self._batched:
            return self._session.run(None, {self._input: batch})[0]
        return np.concatenate([self._session.run(None, {self._input: item[None]})[0] for item in batch])

    def embed_aligned(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        if len(crops) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        batch = np.stack(crops).astype(np.float32)
        if self.channels == "BGR":
            batch = batch[..., ::-1]
        batch = np.ascontiguousarray(((batch - self.mean) / self.std).transpose(0, 3, 1, 2))
        features = self._forward(batch).reshape(len(crops), -1)
        if self.flip:
            features = features + self._forward(np.ascontiguousarray(batch[:, :, :, ::-1])).reshape(len(crops), -1)
        return l2_normalize(features)
