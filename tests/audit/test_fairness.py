"""Fairness audit on real LFW images and real embeddings (YuNet + MobileFaceNet)."""
from __future__ import annotations

import numpy as np
import pytest

from facetrust.audit.fairness import all_comparisons, audit_fairness, gini
from facetrust.audit.groups import read_group_csv
from facetrust.errors import ConfigError
from facetrust.evaluation.cache import EmbeddingCache
from facetrust.evaluation.embedder import EvalModel, embed_images
from facetrust.evaluation.lfw import LFW_FALLBACK_BOX

MODEL = EvalModel("yunet", "mobilefacenet", fallback_box=LFW_FALLBACK_BOX)
FMR = 0.01  # the subset has ~3,000 impostor comparisons: 1e-3 would rest on 3 of them


@pytest.fixture(scope="module")
def audited(labels_subset, shared, audit_cache):
    audit_set = read_group_csv(labels_subset, shared / "data" / "lfw", ["gender_afifi", "race_usc_single"])
    with EmbeddingCache(audit_cache) as cache:
        result = audit_fairness(audit_set, [MODEL], cache, FMR, workers=1, progress=False)
        embedded = embed_images(audit_set.paths, MODEL, cache, progress=False)
    vectors = np.stack([embedded.vector(p, use_fallback=True) for p in audit_set.paths])
    return audit_set, vectors, result[MODEL.label]


def test_gini_of_known_distributions():
    assert gini(np.array([0.1, 0.1, 0.1, 0.1])) == pytest.approx(0.0)
    assert gini(np.array([0.0, 0.0, 0.0, 1.0])) == pytest.approx(0.75)
    assert gini(np.zeros(5)) == 0.0


def test_identity_rates_add_up_to_the_global_false_match_rate(audited):
    audit_set, vectors, result = audited
    comparisons = all_comparisons(vectors, audit_set.identities)
    impostor = ~comparisons.same
    accepted = comparisons.scores >= result["threshold"]
    overall = np.mean(accepted[impostor])
    assert 0 < overall <= FMR  # the threshold holds the set's FMR
    rates = result["identity"]["fpr_per_identity"]
    assert len(rates) == len(set(audit_set.identities)) == result["identity"]["identities"]
    # Each impostor pair counts once for each of its two identities: the totals are twice the pair counts.
    sizes = np.bincount(comparisons.identity_index)
    totals = sizes * (len(vectors) - sizes)
    assert np.sum(rates * totals) == pytest.approx(2 * np.sum(accepted & impostor))
    assert 0 <= result["identity"]["gini"] < 1
    worst = result["identity"]["worst_identities"]
    assert worst[0]["fpr"] == pytest.approx(rates.max())
    assert [w["fpr"] for w in worst] == sorted((w["fpr"] for w in worst), reverse=True)


def test_groups_report_rates_intervals_and_small_groups(audited):
    audit_set, _, result = audited
    gender = result["groups"]["gender_afifi"]
    for name in ("F", "M"):
        entry = gender["groups"][name]
        low, high = entry["fmr_ci95"]
        assert low <= entry["fmr"] <= high
        assert entry["threshold_for_equal_fmr"] >= 0
    assert gender["summary"]["groups_compared"] == ["F", "M"]
    assert gender["summary"]["fairness_discrepancy_rate"] <= 1
    race = result["groups"]["race_usc_single"]
    small = [n for n, e in race["groups"].items() if e["identities"] < 10]
    assert small, "the subset is mostly one group: the others are small"
    for name in small:
        entry = race["groups"][name]
        assert "too small" in str(entry.get("fnmr_ci95")) or "no " in str(entry.get("fnmr_ci95"))
        assert name in race["summary"]["groups_too_small_to_compare"]
    assert race["summary"]["cross_group_impostor_comparisons_left_out"] > 0


def test_group_csv_errors(labels_subset, shared, tmp_path):
    root = shared / "data" / "lfw"
    broken = tmp_path / "unknown.csv"
    broken.write_text(labels_subset.read_text() + "Nobody/Nobody_0001.jpg,Nobody,M,,,\n")
    with pytest.raises(ConfigError, match="not found"):
        read_group_csv(broken, root)
    kept = read_group_csv(broken, root, ["gender_afifi"], skip_missing=True)
    assert len(kept.paths) == 81 and "left out" in kept.notes[0]
    with pytest.raises(ConfigError, match="no column"):
        read_group_csv(labels_subset, root, ["age"])
    lines = labels_subset.read_text().splitlines()
    unlabelled = tmp_path / "unlabelled.csv"
    unlabelled.write_text("\n".join([lines[0] + ",age", *(line + "," for line in lines[1:])]) + "\n")
    with pytest.raises(ConfigError, match="empty for every"):
        read_group_csv(unlabelled, root, ["age"])
