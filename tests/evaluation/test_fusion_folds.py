"""Score fusion in the verification protocol: z-normalisation never sees its own test fold."""
from __future__ import annotations

import numpy as np

from facetrust.evaluation.verification import ScoredPairs, fuse


def scored(label: str, scores: np.ndarray, folds: np.ndarray, index: np.ndarray) -> ScoredPairs:
    return ScoredPairs(label, scores, np.arange(len(scores)) % 2 == 0, folds, index)


def test_fusion_statistics_come_from_the_other_folds_only():
    rng = np.random.default_rng(0)
    folds = np.repeat(np.arange(4), 10)
    a, b = rng.normal(0.5, 0.1, 40), rng.normal(10, 3, 40)
    index = np.arange(40)
    fused = fuse(scored("a", a, folds, index), scored("b", b, folds, index))
    for fold in range(4):
        test, train = folds == fold, folds != fold
        expected = (a[test] - a[train].mean()) / a[train].std() + (b[test] - b[train].mean()) / b[train].std()
        np.testing.assert_allclose(fused.scores[test], expected)
    # shifting fold 0's scores shifts its fused scores by exactly shift / std(other folds):
    # fold 0's own scores are not in its normalisation statistics
    b2 = b.copy()
    b2[folds == 0] += 100
    fused2 = fuse(scored("a", a, folds, index), scored("b", b2, folds, index))
    test = folds == 0
    np.testing.assert_allclose(fused2.scores[test] - fused.scores[test],
                               100 / b[~test].std(), rtol=1e-12)


def test_fusion_keeps_only_pairs_both_matchers_scored():
    folds = np.array([0, 0, 1, 1, 2, 2])
    first = scored("a", np.array([0.1, 0.9, 0.2, 0.8, 0.3, 0.7]), folds, np.arange(6))
    second = ScoredPairs("b", np.array([1.0, 2.0, 3.0, 4.0, 5.0]), np.array([1, 0, 1, 0, 1], bool),
                         np.array([0, 0, 1, 1, 2]), np.array([0, 1, 3, 4, 5]))
    fused = fuse(first, second)
    assert fused.index.tolist() == [0, 1, 3, 4, 5]
    assert fused.label == "fusion"
    assert fused.same.tolist() == first.same[[0, 1, 3, 4, 5]].tolist()
    assert np.all(np.isfinite(fused.scores)) and fused.scores.shape == (5,)
