"""The recognizer protocol.

A recognizer turns an aligned crop into an L2-normalised embedding; the
similarity of two faces is the cosine (dot product) of their embeddings.
"""
from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from facetrust.types import Detection


@runtime_checkable
class Recognizer(Protocol):
    name: str
    dim: int
    #: Always "cosine" so far: embeddings are L2-normalised, similarity = dot product.
    metric: str
    #: Name of the shipped verification thresholds, ``facetrust/recognition/calibration/<calibration>.json``
    #: (measured with bench/calibrate_thresholds.py); verification and galleries read them.
    calibration: str
    #: Zoo manifest entries the recognizer loads (its own weights first; the gallery's model
    #: identity is the sha256 of the manifest entry named like the recognizer).
    zoo_models: tuple[str, ...]

    def align(self, image: np.ndarray, detection: Detection) -> np.ndarray:
        """The crop this model expects, from an RGB image and a detection with landmarks."""
        ...

    def embed_aligned(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """(N, dim) float32 L2-normalised embeddings of crops made by :meth:`align`."""
        ...


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
