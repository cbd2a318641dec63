"""Error-versus-discard curves: exact values on small hand-checked cases and documented conventions."""
from __future__ import annotations

import numpy as np
import pytest

from facetrust.errors import ConfigError
from facetrust.quality.edc import edc, oracle_edc, pair_quality, random_pauc, recommended_cut, step_area

THRESHOLD = 0.5
# Ten genuine comparisons; those with similarity < 0.5 are false non-matches (3 of 10).
SCORES = np.array([0.1, 0.2, 0.9, 0.3, 0.8, 0.9, 0.7, 0.95, 0.6, 0.85])
QUALITY = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0])


def test_curve_by_hand():
    curve = edc(SCORES, QUALITY, THRESHOLD)
    assert curve.start == pytest.approx(0.3)
    # Discarding the lowest 1, 2, 3, 4 comparisons removes errors, success, error: 2/9, 1/8, 1/7, 0/6.
    assert curve.discard[:5] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    assert curve.fnmr[:5] == pytest.approx([0.3, 2 / 9, 1 / 8, 1 / 7, 0.0])
    assert curve.fnmr_at(0.2) == pytest.approx(1 / 8)
    # Step curve on [0, 0.2]: 0.1 * 0.3 + 0.1 * 2/9
    assert curve.pauc(0.2) == pytest.approx(0.1 * 0.3 + 0.1 * 2 / 9)
    assert curve.quality_cut[1] == 2.0  # the 2nd point discards quality < 2


def test_ties_are_discarded_together():
    quality = np.array([1, 1, 1, 2, 2, 3, 3, 3, 3, 3], dtype=float)
    curve = edc(SCORES, quality, THRESHOLD)
    assert curve.discard == pytest.approx([0.0, 0.3, 0.5])
    assert curve.fnmr == pytest.approx([0.3, 1 / 7, 0.0])


def test_perfect_quality_meets_the_oracle_and_reversed_is_worse_than_random():
    rng = np.random.default_rng(1)
    scores = rng.uniform(0, 1, 2000)
    perfect = edc(scores, scores, THRESHOLD)  # quality = the similarity itself
    oracle = oracle_edc(scores, THRESHOLD)
    assert perfect.pauc() == pytest.approx(oracle.pauc(), abs=2e-3)
    reversed_curve = edc(scores, -scores, THRESHOLD)
    assert reversed_curve.pauc() > random_pauc(perfect.start) > perfect.pauc()


def test_uninformative_quality_stays_near_random():
    rng = np.random.default_rng(2)
    scores = rng.uniform(0, 1, 20000)
    curve = edc(scores, rng.uniform(0, 1, 20000), THRESHOLD)
    assert curve.pauc() == pytest.approx(random_pauc(curve.start), rel=0.05)


def test_pair_quality_is_the_minimum():
    assert pair_quality([3, 1, 5], [2, 4, 5]).tolist() == [2, 1, 5]


def test_step_area_limits():
    assert step_area(np.array([0.0, 0.5]), np.array([1.0, 0.0]), 1.0) == pytest.approx(0.5)
    with pytest.raises(ConfigError):
        step_area(np.array([0.0]), np.array([1.0]), 0.0)


def test_recommended_cut():
    # Discarded sets: q<2 -> 1/1 errors, q<3 -> 2/2, q<4 -> 2/3, q<5 -> 3/4 ... rate vs 2 x 0.3 = 0.6.
    cut, discarded = recommended_cut(edc(SCORES, QUALITY, THRESHOLD), factor=2.0, max_discard=0.45)
    assert (cut, discarded) == (5.0, pytest.approx(0.4))
    cut, discarded = recommended_cut(edc(SCORES, QUALITY, THRESHOLD), factor=2.0, max_discard=0.2)
    assert (cut, discarded) == (3.0, pytest.approx(0.2))
    useless = edc(SCORES, -QUALITY, THRESHOLD)  # worst comparisons kept longest
    assert recommended_cut(useless) == (float("-inf"), 0.0)


@pytest.mark.parametrize("scores, quality", [([], []), ([0.1, 0.2], [1.0]), ([0.1, np.nan], [1.0, 2.0])])
def test_bad_input(scores, quality):
    with pytest.raises(ConfigError):
        edc(np.array(scores), np.array(quality), THRESHOLD)
