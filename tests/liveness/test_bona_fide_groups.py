"""BPCER per demographic group on real UTKFace crops: the splits, the shipped and the forced views."""
from __future__ import annotations

import json

import pytest

from facetrust.errors import ConfigError
from facetrust.liveness.evaluation import bpcer_by_group, read_grouped_faces, score_bona_fide, utkface_split


@pytest.fixture(scope="module")
def labels(shared):
    return shared / "data" / "utkface" / "labels.csv"


def test_fit_and_eval_splits_are_fixed_by_the_file_name_and_disjoint(labels):
    fit = read_grouped_faces(labels, split="fit")
    held_out = read_grouped_faces(labels, split="eval")
    every = read_grouped_faces(labels)
    assert not {f.path for f in fit} & {f.path for f in held_out}
    assert len(fit) + len(held_out) == len(every) == 9778  # the two malformed names have no labels
    assert all(utkface_split(f.path.name) == "eval" for f in held_out)
    assert utkface_split("images/x.jpg") == utkface_split("x.jpg")  # the base name decides
    assert {f.groups["race"] for f in every} == {"asian", "black", "indian", "others", "white"}


def test_per_group_output_on_a_small_real_subset(checker, labels):
    faces = read_grouped_faces(labels, split="eval")[:6]
    records = score_bona_fide(checker, faces)
    result = json.loads(json.dumps(bpcer_by_group(records, checker.threshold)))
    assert set(result) == {"threshold", "in_scope", "forced", "scope"}
    for view in ("in_scope", "forced", "scope"):
        assert set(result[view]) == {"overall", "gender", "race"}
    genders = {f.groups["gender"] for f in faces}
    assert set(result["forced"]["gender"]) == genders
    scope = result["scope"]["overall"]["all"]
    assert scope["images"] == 6
    # UTKFace images are tight face crops: the shipped checker declines them and says why.
    assert scope["decided"] == 0 and scope["reasons"] == {"tight face crop": 6}
    assert result["in_scope"]["overall"]["all"] == {"n": 0, "bpcer": None, "ci95": None}
    forced = result["forced"]["overall"]["all"]
    assert forced["n"] == 6 and 0 <= forced["bpcer"] <= 1
    low, high = forced["ci95"]
    assert low <= forced["bpcer"] <= high
    rejected = sum(r.forced_score < checker.threshold for r in records)
    assert forced["bpcer"] == pytest.approx(rejected / 6, abs=1e-4)
    assert sum(g["n"] for g in result["forced"]["gender"].values()) == 6


def test_a_labels_file_without_the_group_columns_is_a_config_error(spoof_dir):
    with pytest.raises(ConfigError, match="needs columns file,gender,race"):
        read_grouped_faces(spoof_dir / "labels.csv")


def test_track_decision_in_analyze_has_a_null_is_live_when_unknown(checker, shared, spoof_dir):
    from facetrust.liveness.check import LivenessCheck

    tight = checker.check(shared / "data" / "utkface" / "images" / "36_1_0_20170104171550313.jpg.chip.jpg")
    live = checker.check(spoof_dir / "silent_face" / "image_T1.jpg")
    aggregate = LivenessCheck(checker.analyzer).aggregate
    unknown = aggregate([tight[0].result.to_dict()] * 2)
    assert unknown["status"] == "unavailable" and unknown["is_live"] is None and unknown["score"] is None
    assert aggregate([live[0].result.to_dict(), tight[0].result.to_dict()])["is_live"] is True
