"""Metric code against hand-computed values."""
from __future__ import annotations

import numpy as np
import pytest

from facetrust.errors import ConfigError
from facetrust.evaluation.metrics import accuracy_at, best_threshold, kfold_accuracy


def test_best_threshold_separates_perfectly():
    scores = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    same = np.array([0, 0, 0, 1, 1, 1], dtype=bool)
    threshold = best_threshold(scores, same)
    assert 0.3 < threshold <= 0.7 and accuracy_at(scores, same, threshold) == 1.0


def test_best_threshold_with_overlap_by_hand():
    # sorted: .1(d) .4(s) .5(d) .6(s) .9(s): t in (.5,.6] -> 4/5 right; t in (.1,.4] -> 4/5 right.
    scores = np.array([0.1, 0.4, 0.5, 0.6, 0.9])
    same = np.array([0, 1, 0, 1, 1], dtype=bool)
    assert accuracy_at(scores, same, best_threshold(scores, same)) == pytest.approx(0.8)


def test_kfold_threshold_never_sees_its_test_fold():
    # Fold 0 alone would pick t~0.5, but folds 1-2 put t in (0.72, 0.9]; fold 0 then scores 50%.
    # For folds 1 and 2, (0.72, 0.9] is right on 5 of 6 training pairs vs 4 of 6 for (0.4, 0.6].
    scores = np.array([0.4, 0.6, 0.7, 0.9, 0.72, 0.95, 0.7, 0.9, 0.72, 0.95])
    same = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0, 1], dtype=bool)
    folds = np.array([0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
    accuracies, thresholds = kfold_accuracy(scores, same, folds)
    assert np.all((thresholds > 0.72) & (thresholds <= 0.9))
    assert accuracies.tolist() == [0.5, 1.0, 1.0]


def test_bad_scores():
    with pytest.raises(ConfigError, match="NaN"):
        best_threshold(np.array([0.1, np.nan]), np.array([True, False]))
    with pytest.raises(ConfigError, match="no scores"):
        best_threshold(np.array([]), np.array([], dtype=bool))
