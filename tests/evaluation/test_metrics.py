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


# --------------------------------------------------------------------------- ROC family


from sklearn.metrics import roc_auc_score, roc_curve  # noqa: E402

from facetrust.evaluation.metrics import (  # noqa: E402
    auc,
    cmc,
    det_curve,
    dir_at_fpir,
    eer,
    fuse_scores,
    roc,
    summarize_verification,
    tar_at_far,
)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roc_and_auc_match_scikit_learn_with_ties(seed):
    rng = np.random.default_rng(seed)
    # rounded scores make many ties, the hard case for ROC code
    scores = np.round(np.r_[rng.normal(1, 1, 400), rng.normal(0, 1, 600)], 1)
    same = np.r_[np.ones(400, bool), np.zeros(600, bool)]
    far, tar, thresholds = roc(scores, same)
    ref_far, ref_tar, ref_thr = roc_curve(same, scores, drop_intermediate=False)
    np.testing.assert_allclose(far, ref_far)
    np.testing.assert_allclose(tar, ref_tar)
    np.testing.assert_allclose(thresholds[1:], ref_thr[1:])
    assert auc(scores, same) == pytest.approx(roc_auc_score(same, scores), abs=1e-12)


def test_auc_by_hand_counts_ties_as_half():
    # genuine {0.8, 0.5}, impostor {0.5, 0.2}: pairs (g>i) = 3, tie = 1 -> (3 + 0.5) / 4
    scores = np.array([0.8, 0.5, 0.5, 0.2])
    same = np.array([1, 1, 0, 0], dtype=bool)
    assert auc(scores, same) == pytest.approx(0.875)


def test_eer_of_two_unit_gaussians():
    # genuine N(d, 1), impostor N(0, 1): EER = Phi(-d/2), threshold d/2 by symmetry
    from scipy.stats import norm

    rng = np.random.default_rng(0)
    d = 2.0
    scores = np.r_[rng.normal(d, 1, 200_000), rng.normal(0, 1, 200_000)]
    same = np.r_[np.ones(200_000, bool), np.zeros(200_000, bool)]
    rate, threshold = eer(scores, same)
    assert rate == pytest.approx(norm.cdf(-d / 2), abs=0.002)
    assert threshold == pytest.approx(d / 2, abs=0.01)


def test_eer_exact_crossing_by_hand():
    # thresholds .9 .7 .6 .4: at t=.6 FAR = 1/2, FRR = 1/2 exactly
    scores = np.array([0.9, 0.6, 0.7, 0.4])
    same = np.array([1, 0, 1, 0], dtype=bool)
    assert eer(scores, same) == (0.0, 0.7)  # t=.7 accepts both genuines and no impostor
    scores = np.array([0.9, 0.3, 0.7, 0.4])  # genuine .9 .3, impostor .7 .4
    same = np.array([1, 1, 0, 0], dtype=bool)
    # t=.9: FAR 0 FRR .5; t=.7: FAR .5 FRR .5 -> exact crossing at .7
    assert eer(scores, same) == (0.5, 0.7)


def test_tar_at_far_exact_thresholds_and_ties():
    impostor = np.arange(1000) / 1000.0  # 0.000 .. 0.999
    genuine = np.array([0.9985, 0.999, 0.9975, 0.5])
    scores, same = np.r_[genuine, impostor], np.r_[np.ones(4, bool), np.zeros(1000, bool)]
    # FAR 1e-3 allows 1 impostor (0.999) to be accepted: lowest threshold = smallest score above 0.998
    tar, threshold = tar_at_far(scores, same, 1e-3)
    assert threshold == pytest.approx(0.9985)
    assert tar == 0.5  # 0.9985 and 0.999 accepted
    assert np.mean(impostor >= threshold) <= 1e-3
    # a tie at the cut: two impostors at 0.999 with FAR allowing one -> both rejected, never split
    scores_tied = np.r_[genuine, impostor[:-2], 0.999, 0.999]
    tar, threshold = tar_at_far(scores_tied, same, 1e-3)
    assert threshold > 0.999 and tar == 0.0
    with pytest.raises(ConfigError, match="not measurable"):
        tar_at_far(scores, same, 1e-4)


def test_det_curve_is_one_minus_tar():
    scores = np.array([0.9, 0.8, 0.3, 0.2, 0.85])
    same = np.array([1, 1, 0, 0, 0], dtype=bool)
    far, frr = det_curve(scores, same)
    ref_far, ref_tar, _ = roc_curve(same, scores, drop_intermediate=False)
    np.testing.assert_allclose(far, ref_far)
    np.testing.assert_allclose(frr, 1 - ref_tar)


@pytest.mark.parametrize(
    "scores, same, message",
    [
        (np.array([0.1, 0.2]), np.array([True, True]), "single class"),
        (np.array([0.1, np.nan]), np.array([True, False]), "NaN"),
        (np.array([]), np.array([], dtype=bool), "no scores"),
        (np.array([0.1, 0.2]), np.array([True]), "same length"),
    ],
)
def test_roc_metrics_refuse_bad_input(scores, same, message):
    for metric in (auc, eer, roc):
        with pytest.raises(ConfigError, match=message):
            metric(scores, same)


def test_summary_keys_and_unmeasurable_far():
    rng = np.random.default_rng(3)
    scores = np.r_[rng.normal(2, 1, 300), rng.normal(0, 1, 300)]
    same = np.r_[np.ones(300, bool), np.zeros(300, bool)]
    summary = summarize_verification(scores, same).to_dict()
    assert summary["tar_at_far"]["0.01"] is not None
    assert summary["tar_at_far"]["0.001"] is None  # 1e-3 * 300 impostors < 1
    assert len(summary["fold_accuracies"]) == 10
    assert summary["auc"] == pytest.approx(roc_auc_score(same, scores))


# --------------------------------------------------------------------------- identification


def test_cmc_by_hand_with_multi_sample_identities_and_ties():
    gallery_ids = ["a", "a", "b", "c"]
    sim = np.array([
        [0.9, 0.1, 0.5, 0.2],  # probe a: a best (0.9) -> rank 1
        [0.1, 0.3, 0.6, 0.4],  # probe a: a best 0.3, b 0.6, c 0.4 -> rank 3
        [0.2, 0.7, 0.7, 0.1],  # probe b: b 0.7 ties a 0.7 -> pessimistic rank 2
    ])
    rates = cmc(sim, ["a", "a", "b"], gallery_ids, max_rank=4)
    np.testing.assert_allclose(rates, [1 / 3, 2 / 3, 1.0, 1.0])
    with pytest.raises(ConfigError, match="closed set"):
        cmc(sim, ["a", "a", "z"], gallery_ids)


def test_dir_at_fpir_by_hand():
    gallery_ids = ["a", "b"]
    mated = np.array([[0.9, 0.1], [0.6, 0.2], [0.3, 0.8], [0.5, 0.55]])  # last: wrong rank 1
    mated_ids = ["a", "a", "b", "a"]
    nonmated = np.array([[0.7, 0.1], [0.2, 0.4], [0.1, 0.3], [0.5, 0.0], [0.35, 0.2],
                         [0.1, 0.1], [0.2, 0.2], [0.3, 0.1], [0.0, 0.25], [0.15, 0.1]])
    # top non-mated scores: .7 .4 .3 .5 .35 .1 .2 .3 .25 .15; FPIR 0.1 allows one alarm (0.7)
    rate, threshold = dir_at_fpir(mated, mated_ids, gallery_ids, nonmated, 0.1)
    assert threshold == pytest.approx(0.6)  # smallest occurring score above 0.5
    # rank-1 and >= 0.6: probes 1 (0.9), 2 (0.6), 3 (0.8); probe 4 is rank 2
    assert rate == pytest.approx(3 / 4)
    with pytest.raises(ConfigError, match="not measurable"):
        dir_at_fpir(mated, mated_ids, gallery_ids, nonmated, 0.01)


# --------------------------------------------------------------------------- fusion


def test_fusion_is_sum_of_z_scores():
    a, b = np.array([1.0, 3.0]), np.array([10.0, 30.0])
    fused = fuse_scores([a, b], [(2.0, 1.0), (20.0, 10.0)])
    np.testing.assert_allclose(fused, [-2.0, 2.0])
    with pytest.raises(ConfigError, match="positive std"):
        fuse_scores([a], [(0.0, 0.0)])
