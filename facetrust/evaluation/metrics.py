"""Verification metrics on similarity scores (higher = more similar)."""
from __future__ import annotations

import numpy as np

from facetrust.errors import ConfigError


def _check(scores: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=np.float64)
    same = np.asarray(same, dtype=bool)
    if scores.shape != same.shape or scores.ndim != 1:
        raise ConfigError("scores and labels must be 1-D arrays of the same length")
    if len(scores) == 0:
        raise ConfigError("no scores to evaluate")
    if not np.all(np.isfinite(scores)):
        raise ConfigError("scores contain NaN or infinity")
    return scores, same


def accuracy_at(scores: np.ndarray, same: np.ndarray, threshold: float) -> float:
    scores, same = _check(scores, same)
    return float(np.mean((scores >= threshold) == same))


def best_threshold(scores: np.ndarray, same: np.ndarray) -> float:
    """Threshold maximising accuracy; candidates are midpoints between sorted scores."""
    scores, same = _check(scores, same)
    ordered = np.unique(scores)
    candidates = np.concatenate([[ordered[0] - 1e-6], (ordered[:-1] + ordered[1:]) / 2, [ordered[-1] + 1e-6]])
    # accuracy(t) = (#same with score >= t + #different with score < t) / n, for all t at once
    same_scores = np.sort(scores[same])
    diff_scores = np.sort(scores[~same])
    true_accept = len(same_scores) - np.searchsorted(same_scores, candidates, side="left")
    true_reject = np.searchsorted(diff_scores, candidates, side="left")
    return float(candidates[int(np.argmax(true_accept + true_reject))])


def kfold_accuracy(scores: np.ndarray, same: np.ndarray, folds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-fold accuracy with the threshold chosen on the other folds only (LFW View-2 style).

    Returns (accuracies, thresholds), one per fold, in fold order.
    """
    scores, same = _check(scores, same)
    folds = np.asarray(folds)
    accuracies, thresholds = [], []
    for fold in np.unique(folds):
        train, test = folds != fold, folds == fold
        threshold = best_threshold(scores[train], same[train])
        thresholds.append(threshold)
        accuracies.append(accuracy_at(scores[test], same[test], threshold))
    return np.array(accuracies), np.array(thresholds)
