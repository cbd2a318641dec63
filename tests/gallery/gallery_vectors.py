"""Synthetic unit vectors for the gallery tests (real images are used where faces matter)."""
from __future__ import annotations

import numpy as np


def unit_vectors(n: int, seed: int, dim: int = 128) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def noisy(vector: np.ndarray, seed: int, scale: float = 0.03) -> np.ndarray:
    """``vector`` plus Gaussian noise, renormalised: another sample of the same identity."""
    out = vector + np.random.default_rng(seed).standard_normal(vector.shape).astype(np.float32) * scale
    return (out / np.linalg.norm(out)).astype(np.float32)
