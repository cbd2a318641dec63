"""PAD metrics (ISO/IEC 30107-3) against values computed by hand.

The set: bona fide 0.9 0.8 0.6 0.3; print attacks 0.7 0.2; replay attacks 0.4 0.1 0.05.
"""
from __future__ import annotations

import numpy as np
import pytest

from facetrust.errors import ConfigError
from facetrust.liveness.metrics import (
    apcer_per_species,
    det_points,
    eer,
    summarize_pad,
    threshold_at_apcer,
)

SCORES = np.array([0.9, 0.8, 0.6, 0.3, 0.7, 0.2, 0.4, 0.1, 0.05])
BONA = np.array([True] * 4 + [False] * 5)
TYPES = ["bona fide"] * 4 + ["print"] * 2 + ["replay"] * 3


def test_rates_at_a_threshold():
    # t = 0.5: print 0.7 accepted -> 1/2; replay none -> 0/3; bona fide 0.3 rejected -> 1/4
    summary = summarize_pad(SCORES, BONA, TYPES, threshold=0.5, apcer_targets=())
    assert summary.apcer_per_species == {"print": 0.5, "replay": 0.0}
    assert summary.apcer_max == 0.5
    assert summary.bpcer == 0.25
    assert summary.acer == pytest.approx(0.375)
    assert summary.n_bona_fide == 4 and summary.n_attacks_per_species == {"print": 2, "replay": 3}


def test_ties_are_classified_bona_fide():
    assert apcer_per_species(SCORES, BONA, TYPES, threshold=0.7)["print"] == 0.5  # 0.7 >= 0.7
    assert summarize_pad(SCORES, BONA, TYPES, threshold=0.3, apcer_targets=()).bpcer == 0.0


def test_threshold_at_apcer_takes_the_worst_species():
    # target 0.5: print may accept floor(1) = 1 -> must reject 0.2; replay may accept 1 -> must reject 0.1;
    # halfway to the next data score above 0.2 (0.3): print 1/2, replay 1/3 (0.4), bona fide all accepted
    assert threshold_at_apcer(SCORES, BONA, TYPES, 0.5) == pytest.approx(0.25)
    # target 0: every attack rejected, halfway between 0.7 and the next score, 0.8
    assert threshold_at_apcer(SCORES, BONA, TYPES, 0.0) == pytest.approx(0.75)
    summary = summarize_pad(SCORES, BONA, TYPES, threshold=0.5, apcer_targets=(0.0, 0.5))
    assert summary.bpcer_at_apcer == {0.0: 0.5, 0.5: 0.0}  # at 0.75: 0.6 and 0.3 rejected
    assert summary.bpcer_at_apcer_threshold == pytest.approx({0.0: 0.75, 0.5: 0.25})


def test_unresolvable_apcer_target_is_none_with_a_note():
    # 2 print attacks cannot resolve APCER = 5 % (needs 20)
    summary = summarize_pad(SCORES, BONA, TYPES, threshold=0.5, apcer_targets=(0.05,))
    assert summary.bpcer_at_apcer == {0.05: None}
    assert "fewer than 20 attacks" in summary.notes[0] and "print" in summary.notes[0]
    assert summary.to_dict()["bpcer_at_apcer"] == {"0.05": None}


def test_eer_by_linear_interpolation():
    # pooled APCER / BPCER: t=0.6 -> 1/5, 1/4 (0.6 itself accepted); t=0.4 -> 2/5, 1/4.
    # diff goes -0.05 -> +0.15, crossing at weight 0.05/0.2 = 1/4:
    # rate 0.2 + 1/4 * 0.2 = 0.25, threshold 0.6 + 1/4 * (0.4 - 0.6) = 0.55
    rate, threshold = eer(SCORES, BONA)
    assert rate == pytest.approx(0.25)
    assert threshold == pytest.approx(0.55)


def test_eer_exact_crossing():
    # bona fide 0.9 0.3, attacks 0.6 0.1: at t = 0.6, APCER 1/2 and BPCER 1/2
    assert eer([0.9, 0.3, 0.6, 0.1], [True, True, False, False]) == (0.5, 0.6)


def test_det_points_use_the_worst_species():
    worst, rate_bpcer, thresholds = det_points(SCORES, BONA, TYPES)
    assert thresholds[0] == np.inf and worst[0] == 0.0 and rate_bpcer[0] == 1.0
    by_threshold = dict(zip(thresholds.tolist(), zip(worst.tolist(), rate_bpcer.tolist())))
    assert by_threshold[0.4] == (0.5, 0.25)  # print 1/2, replay 1/3 -> 1/2; bona fide 0.3 rejected
    assert by_threshold[0.2] == (1.0, 0.0)
    assert by_threshold[0.05] == (1.0, 0.0)


@pytest.mark.parametrize("scores, labels, message", [
    ([0.5, np.nan], [True, False], "NaN"),
    ([0.5, 0.4], [True, True], "no attack"),
    ([0.5, 0.4], [False, False], "no bona fide"),
    ([0.5], [True, False], "same length"),
    ([], [], "same length|no scores"),
])
def test_bad_input(scores, labels, message):
    with pytest.raises(ConfigError, match=message):
        summarize_pad(scores, labels, ["x"] * len(scores), threshold=0.5)
