"""Robustness per demographic group: pair grouping and rates, then a real audit on LFW pairs with their
gender labels (YuNet + MobileFaceNet, fold 1)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facetrust.analyzer import AnalyzerConfig, FaceAnalyzer
from facetrust.audit.groups import read_group_csv
from facetrust.audit.robustness import audit_robustness, first_per_class, fold_subset
from facetrust.audit.robustness_groups import group_rates, pair_labels
from facetrust.evaluation.lfw import LFW_FALLBACK_BOX, Pair, read_lfw_pairs


def test_a_pair_belongs_to_a_group_only_when_both_images_carry_its_label():
    a, b, c, d = (Path(f"/lfw/{n}.jpg") for n in "abcd")
    pairs = [Pair(a, b, True, 0, 1), Pair(a, c, False, 0, 2), Pair(a, d, False, 0, 3)]
    assert list(pair_labels(pairs, {a: "F", b: "F", c: "M"})) == ["F", "", ""]


def test_group_rates_count_misses_per_group_and_compare_only_groups_with_an_interval():
    # 12 people in F (one genuine pair each, 3 missed), 12 in M (none missed), 3 in X (too few for an interval).
    groups = np.array(["F"] * 12 + ["M"] * 12 + ["X"] * 3 + ["F", "F", ""], dtype=object)
    same = np.array([True] * 27 + [False, False, True])
    scores = np.array([0.1] * 3 + [0.9] * 9 + [0.9] * 12 + [0.1, 0.9, 0.9] + [0.95, 0.2, 0.1])
    identities = np.array([f"p{i}" for i in range(27)] + ["q1", "q2", "q3"], dtype=object)
    rates = group_rates(scores, same, groups, identities, threshold=0.5)
    female, male, small = (rates["groups"][n] for n in ("F", "M", "X"))
    assert female["genuine_pairs"] == 12 and female["fnmr"] == pytest.approx(0.25)
    assert female["impostor_pairs"] == 2 and female["false_matches"] == 1
    low, high = female["fnmr_ci95"]
    assert low < 0.25 < high
    assert male["fnmr"] == 0 and isinstance(male["fnmr_ci95"], list)
    assert small["fnmr"] == pytest.approx(1 / 3) and "too small" in small["fnmr_ci95"]
    summary = rates["summary"]
    assert summary["groups_compared"] == ["F", "M"] and summary["groups_too_small_to_compare"] == ["X"]
    assert summary["fnmr_max_minus_min"] == pytest.approx(0.25) and summary["highest_fnmr_group"] == "F"
    assert summary["fnmr_max_over_min"] is None  # M misses nothing: no finite ratio


def test_robustness_audit_per_gender_on_real_pairs(shared):
    root = shared / "data" / "lfw"
    pairs = first_per_class(fold_subset(read_lfw_pairs(shared / "data" / "lfw_pairs.txt", root), [1]), 40)
    labels = read_group_csv(shared / "data" / "lfw_demographics" / "labels.csv", root, ["gender_afifi"]).labels_by_path()
    analyzer = FaceAnalyzer(AnalyzerConfig(detector="yunet", recognizer="mobilefacenet", fallback_box=LFW_FALLBACK_BOX))
    result = audit_robustness(pairs, analyzer, analyzer.threshold(1e-3), {"blur": (6,)}, progress=False, groups=labels)
    clean, blurred = result["clean"]["groups"]["gender_afifi"], result["perturbations"]["blur"][0]["groups"]["gender_afifi"]
    assert set(clean["groups"]) == {"F", "M"}
    genuine = sum(e["genuine_pairs"] for e in clean["groups"].values())
    assert genuine == 40  # every genuine pair of the subset is one person with a gender label
    # The groups' TARs, weighted by their genuine pairs, give back the overall TAR.
    for overall, per_group in ((result["clean"], clean), (result["perturbations"]["blur"][0], blurred)):
        weighted = sum(e["tar_at_threshold"] * e["genuine_pairs"] for e in per_group["groups"].values()) / genuine
        assert weighted == pytest.approx(overall["tar_at_threshold"])
    for name, entry in blurred["groups"].items():
        assert entry["tar_lost_vs_clean"] == pytest.approx(clean["groups"][name]["tar_at_threshold"]
                                                           - entry["tar_at_threshold"])
    assert max(e["tar_lost_vs_clean"] for e in blurred["groups"].values()) > 0  # sigma 6 px costs matches
