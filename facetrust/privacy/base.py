"""What every template-protection scheme provides: a keyed, one-way map to unit vectors.

Protected templates are unit-norm float32 rows compared by inner product, so a
protected gallery keeps its FAISS inner-product index: for ``slerp`` the inner product
is the cosine in the protected domain, for ``biohash`` it is ``1 - 2 * hamming / bits``.
"""
from __future__ import annotations

import json
from abc import ABC, abstractmethod
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from facetrust.errors import ConfigError, EmbeddingError
from facetrust.privacy.keys import ProtectionKey

_CENTRES = Path(__file__).with_name("centres.json")


@lru_cache(maxsize=None)
def recognizer_centre(recognizer: str) -> np.ndarray:
    """Mean embedding of ``recognizer`` (public statistics, see docs/privacy.md).

    Embeddings of one recognizer crowd around a common mean (dlib-resnet: any two faces
    have cosine ~0.84); sign bits and rotations work on the spread around it.
    """
    centres = json.loads(_CENTRES.read_text())
    if recognizer not in centres:
        raise ConfigError(f"no embedding centre for recognizer {recognizer!r} (known: {', '.join(centres)})")
    return np.asarray(centres[recognizer]["mean"], dtype=np.float64)


def keyed_rotation(key: ProtectionKey, dim: int, purpose: str) -> np.ndarray:
    """A random orthonormal ``dim`` x ``dim`` matrix (Haar-distributed) that only ``key`` reproduces."""
    gaussian = key.rng(purpose).standard_normal((dim, dim))
    q, r = np.linalg.qr(gaussian)
    return q * np.sign(np.diag(r))  # sign fix makes the distribution uniform over rotations


class TemplateProtector(ABC):
    """Protects ``dim``-dimensional embeddings under one key."""

    scheme: ClassVar[str]
    #: Whether embeddings are centred on the recognizer's mean first (needed for sign bits).
    centred: ClassVar[bool] = False

    def __init__(self, key: ProtectionKey, dim: int, recognizer: str | None = None) -> None:
        if not isinstance(key, ProtectionKey):
            raise TypeError("key must be a ProtectionKey (see facetrust.privacy.load_key)")
        if dim < 2:
            raise EmbeddingError(f"embedding dimension must be >= 2, got {dim}")
        self.key = key
        self.dim = int(dim)
        self.recognizer = recognizer
        self._centre = recognizer_centre(recognizer) if recognizer is not None and self.centred else None
        if self._centre is not None and len(self._centre) != dim:
            raise ConfigError(f"recognizer {recognizer!r} gives {len(self._centre)}-d embeddings, not {dim}-d")

    @property
    @abstractmethod
    def out_dim(self) -> int:
        """Dimension of a protected template."""

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """The scheme's public parameters (everything but the key)."""

    @abstractmethod
    def _transform(self, unit: np.ndarray) -> np.ndarray:
        """Protect unit rows (n, dim) -> (n, out_dim), not yet normalised."""

    def protect(self, vectors: np.ndarray) -> np.ndarray:
        """Protected templates of ``vectors`` (one row each, or a single vector): unit float32 rows."""
        array = np.asarray(vectors, dtype=np.float64)
        single = array.ndim == 1
        array = np.atleast_2d(array)
        if array.ndim != 2 or array.shape[1] != self.dim:
            raise EmbeddingError(f"{self.scheme}: expected {self.dim}-d embeddings, got shape {np.shape(vectors)}")
        if not np.isfinite(array).all():
            raise EmbeddingError(f"{self.scheme}: embeddings contain NaN or infinity")
        norms = np.linalg.norm(array, axis=1, keepdims=True)
        if (norms == 0).any():
            raise EmbeddingError(f"{self.scheme}: cannot protect a zero vector")
        array = array / norms
        if self._centre is not None:
            array = array - self._centre
            array = array / np.linalg.norm(array, axis=1, keepdims=True)
        out = self._transform(array)
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        out = out.astype(np.float32)
        return out[0] if single else out

    @staticmethod
    def similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Scores between protected templates (inner products; rows of ``a`` against rows of ``b``)."""
        return np.atleast_2d(a) @ np.atleast_2d(b).T

    def spec(self) -> dict[str, Any]:
        """Everything needed to recreate this protector except the key itself."""
        return {"scheme": self.scheme, "dim": self.dim, "params": {**self.params(), "recognizer": self.recognizer},
                "key_fingerprint": self.key.fingerprint}
