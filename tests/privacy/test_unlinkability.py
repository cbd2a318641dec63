"""The D<->sys estimator on score sets with known answers (real cross-key scores: tests/privacy/test_protection.py)."""
from __future__ import annotations

import numpy as np
import pytest

from facetrust.errors import ConfigError
from facetrust.privacy.unlinkability import unlinkability


def test_identical_distributions_are_unlinkable_and_disjoint_ones_fully_linkable():
    rng = np.random.default_rng(0)
    same = unlinkability(rng.normal(0, 0.1, 200_000), rng.normal(0, 0.1, 200_000))
    assert same.d_sys < 0.02
    apart = unlinkability(rng.normal(0.8, 0.05, 5_000), rng.normal(0.0, 0.05, 5_000))
    assert apart.d_sys > 0.99
    partly = unlinkability(rng.normal(0.1, 0.1, 200_000), rng.normal(0.0, 0.1, 200_000))
    assert 0.1 < partly.d_sys < 0.6
    with pytest.raises(ConfigError):
        unlinkability(np.array([]), np.array([0.1]))
