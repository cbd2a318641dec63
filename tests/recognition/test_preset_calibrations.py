"""The recognizers the presets use have shipped calibrations, and a fusion scores real LFW
View-2 pairs as the weighted sum of its members' cosines in the evaluation protocol."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from facetrust.evaluation.cache import EmbeddingCache
from facetrust.evaluation.embedder import EvalModel
from facetrust.evaluation.lfw import read_lfw_pairs, subset_pairs
from facetrust.evaluation.verification import run_verification
from facetrust.recognition import RECOGNIZERS, load_calibration
from facetrust.zoo.store import NonCommercialLicenseWarning

pytestmark = pytest.mark.usefixtures("shared")

#: fast, balanced (the default), accurate, and the best non-commercial configuration.
PRESET_RECOGNIZERS = ["edgeface-xxs", "edgeface-xs", "fusion:edgeface-xs+reid-0095",
                      "fusion:edgeface-xs+reid-0095+w600k-mbf"]
#: All cross-identity pairs of the 13,233 LFW-a images (13,233 faces found by YuNet).
LFW_IMPOSTOR_PAIRS = 87_307_271


@pytest.mark.parametrize("name", PRESET_RECOGNIZERS)
def test_preset_recognizer_has_a_full_lfw_calibration(name: str) -> None:
    calibration = load_calibration(name)
    assert calibration.recognizer == name and calibration.detector == "yunet"
    assert calibration.impostor_pairs == LFW_IMPOSTOR_PAIRS
    assert calibration.impostor_std is not None and calibration.impostor_std > 0
    assert list(calibration.fmr) == sorted(calibration.fmr)
    assert list(calibration.threshold) == sorted(calibration.threshold, reverse=True)
    assert calibration.threshold_at(1e-3) in calibration.threshold  # 1e-3 (the default FMR) is a grid point


@pytest.mark.parametrize("name", [n for n in PRESET_RECOGNIZERS if n.startswith("fusion:")])
def test_fusion_weights_follow_the_members_calibrations(name: str) -> None:
    weights = RECOGNIZERS.get_class(name).weights()
    inverse = {m: 1 / load_calibration(m).impostor_std for m in weights}
    assert sum(weights.values()) == pytest.approx(1.0)
    for member, weight in weights.items():
        assert weight == pytest.approx(inverse[member] / sum(inverse.values()))


def test_fusion_scores_lfw_pairs_as_the_weighted_sum_of_member_cosines(shared: Path, tmp_path: Path) -> None:
    fusion = "fusion:edgeface-xs+reid-0095"
    pairs = subset_pairs(read_lfw_pairs(shared / "data" / "lfw_pairs.txt", shared / "data" / "lfw"),
                         folds=2, max_pairs=16)
    models = [EvalModel("yunet", m) for m in ("edgeface-xs", "reid-0095", fusion)]
    with warnings.catch_warnings(), EmbeddingCache(tmp_path / "cache.sqlite") as cache:
        warnings.simplefilter("ignore", NonCommercialLicenseWarning)
        run = run_verification(pairs, models, cache, workers=1, progress=False)
    scored = {m.recognizer: run.with_fallback[m.label] for m in models}
    assert all(len(s.scores) == len(pairs) for s in scored.values())
    expected = sum(w * scored[m].scores for m, w in RECOGNIZERS.get_class(fusion).weights().items())
    np.testing.assert_allclose(scored[fusion].scores, expected, atol=1e-5)
    # the fused embeddings were composed from the members' cached ones: nothing embedded twice
    assert run.embedded[models[2].label].computed == 0
