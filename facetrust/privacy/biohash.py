"""``biohash``: keyed orthonormal random projection, then one bit per projection (Teoh et al., 2004).

Embeddings are first centred on the recognizer's public mean (``recognizer=``): they crowd
around it, so signs of uncentred projections are mostly the same for everyone.
Bits are stored as +-1/sqrt(bits), so the inner product of two protected templates is
``1 - 2 * hamming / bits``: Hamming matching inside the gallery's inner-product index.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from facetrust.errors import ConfigError
from facetrust.privacy.base import TemplateProtector, keyed_rotation
from facetrust.privacy.keys import ProtectionKey


class BioHashProtector(TemplateProtector):
    scheme = "biohash"
    centred = True

    def __init__(self, key: ProtectionKey, dim: int, recognizer: str | None = None, bits: int | None = None) -> None:
        super().__init__(key, dim, recognizer)
        bits = dim if bits is None else int(bits)
        if not 1 <= bits <= dim:
            raise ConfigError(f"biohash: bits must be in 1..{dim} (orthonormal projections), got {bits}")
        self.bits = bits
        self._projection = keyed_rotation(key, dim, "biohash/projection")[:bits]

    @property
    def out_dim(self) -> int:
        return self.bits

    def params(self) -> dict[str, Any]:
        return {"bits": self.bits}

    def _transform(self, unit: np.ndarray) -> np.ndarray:
        return np.where(unit @ self._projection.T >= 0.0, 1.0, -1.0)

    @staticmethod
    def hamming_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Fraction of equal bits between protected templates."""
        return (1.0 + TemplateProtector.similarity(a, b)) / 2.0
