"""The UTKFace split (train / calibration / evaluation) and the false-alarm evaluation on real colour faces."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def test_split_is_deterministic_disjoint_and_by_name_only(utkface) -> None:
    from facetrust.forensics.colour_faces import read_utkface, split_of

    faces = read_utkface(utkface)
    by_split = {s: {f.path.name for f in faces if f.split == s} for s in ("train", "calibration", "evaluation")}
    assert sum(len(v) for v in by_split.values()) == len(faces) == len({f.path.name for f in faces})
    assert not (by_split["train"] & by_split["calibration"]) and not (by_split["train"] & by_split["evaluation"])
    assert not (by_split["calibration"] & by_split["evaluation"])
    assert [split_of(f.path.name) for f in faces] == [split_of("images/" + f.path.name) for f in faces]
    assert [f.split for f in read_utkface(utkface)] == [f.split for f in faces]  # same again
    shares = {s: len(v) / len(faces) for s, v in by_split.items()}
    assert abs(shares["train"] - 0.7) < 0.02 and abs(shares["evaluation"] - 0.2) < 0.02


def test_training_never_sees_calibration_or_evaluation_faces(shared, utkface) -> None:
    from facetrust.forensics.colour_faces import read_utkface
    from facetrust.forensics.training.data import training_files

    files = {p.name for p in training_files(shared, 10, 0, utkface=True)}
    held = {f.path.name for f in read_utkface(utkface) if f.split != "train"}
    train = {f.path.name for f in read_utkface(utkface, "train")}
    assert train <= files and not (files & held)


def test_race_balanced_subsample_is_capped_and_stable(utkface) -> None:
    from facetrust.forensics.colour_faces import read_utkface

    sample = read_utkface(utkface, "evaluation", per_race=20)
    races = [f.race for f in sample]
    assert {races.count(r) for r in set(races)} == {20} and len(set(races)) == 5
    assert [f.path for f in read_utkface(utkface, "evaluation", per_race=20)] == [f.path for f in sample]
    assert {f.path for f in sample} <= {f.path for f in read_utkface(utkface, "evaluation", per_race=40)}


def test_calibrated_threshold_allows_at_most_the_target_share() -> None:
    from facetrust.forensics.false_alarms import calibrated_threshold

    scores = np.random.default_rng(0).uniform(size=1000)
    t = calibrated_threshold(scores, 0.03)
    assert np.mean(scores >= t) <= 0.03 < np.mean(scores >= t - 2e-4)


def test_real_colour_faces_scored_in_both_crop_forms_with_group_rates(utkface, tmp_path: Path) -> None:
    from facetrust.forensics.cache import ScoreCache
    from facetrust.forensics.colour_faces import read_utkface
    from facetrust.forensics.false_alarms import (CROP_FORMS, build_checkers, false_alarm_rates,
                                                  score_colour_faces)

    faces = read_utkface(utkface, "evaluation", per_race=1)
    checkers, versions = build_checkers(["sbi"])
    with ScoreCache(tmp_path / "scores.sqlite") as cache:
        rows = score_colour_faces(faces, checkers, versions, cache)
        again = score_colour_faces(faces, checkers, versions, cache)  # from the cache
    assert [(r["file"], r["form"]) for r in rows] == [(f.path.name, form) for f in faces for form in CROP_FORMS]
    assert all(0.0 <= r["sbi"] <= 1.0 for r in rows) and rows == again
    rates = false_alarm_rates([r for r in rows if r["form"] == "aligned112"], "sbi", 0.5)
    assert rates["overall"]["n"] == 5 and set(rates["race"]["groups"]) == {"asian", "black", "indian", "others", "white"}
    flagged = sum(r["sbi"] >= 0.5 for r in rows if r["form"] == "aligned112")
    assert rates["overall"]["false_alarms"] == flagged


def test_another_face_detector_is_its_own_cache_version(utkface, tmp_path: Path) -> None:
    """Faces found (and aligned) by RetinaFace are other crops than YuNet's: scored under their own
    cache key, so the two never read each other's scores."""
    from facetrust.forensics.cache import ScoreCache
    from facetrust.forensics.colour_faces import read_utkface
    from facetrust.forensics.false_alarms import build_checkers, score_colour_faces

    faces = read_utkface(utkface, "evaluation", per_race=1)
    default, default_versions = build_checkers(["sbi"])
    retina, retina_versions = build_checkers(["sbi"], face_detector="retinaface")
    assert retina["sbi"].analyzer.config.detector == "retinaface"
    assert retina_versions["sbi"] == default_versions["sbi"] + "|faces=retinaface"
    with ScoreCache(tmp_path / "scores.sqlite") as cache:
        yunet_rows = score_colour_faces(faces, default, default_versions, cache)
        retina_rows = score_colour_faces(faces, retina, retina_versions, cache)
    assert len(retina_rows) == len(yunet_rows) == 10
    assert all(0.0 <= r["sbi"] <= 1.0 for r in retina_rows)
    assert [r["sbi"] for r in retina_rows] != [r["sbi"] for r in yunet_rows]


def test_age_groups_use_the_attribute_bins() -> None:
    from facetrust.forensics.false_alarms import age_group

    assert [age_group(a) for a in (0, 2, 3, 19, 20, 69, 70, 116, None)] == [
        "0-2", "0-2", "3-9", "10-19", "20-29", "60-69", "70+", "70+", None]


def test_false_alarms_at_the_shipped_threshold_per_gender_race_and_age(utkface, tmp_path: Path) -> None:
    from facetrust.forensics.cache import ScoreCache
    from facetrust.forensics.false_alarms import CROP_FORMS, false_alarms_at_threshold, group_table
    from facetrust.forensics.sbi import SBIDetector

    with ScoreCache(tmp_path / "scores.sqlite") as cache:
        result = false_alarms_at_threshold(utkface, "sbi", SBIDetector.default_threshold, cache, per_race=1)
    assert result["faces"] == 5 and result["threshold"] == 0.7358  # no threshold is fitted
    for form in CROP_FORMS:
        rates = result["false_alarms"][form]
        ages = rates["age_group"]["groups"]
        assert sum(g["n"] for g in ages.values()) == rates["overall"]["n"] == 5
        assert sum(g["false_alarms"] for g in rates["race"]["groups"].values()) == rates["overall"]["false_alarms"]
    assert set(result["target"]) == {*CROP_FORMS, "passes"}
    table = group_table(result)
    assert "| **overall** |" in table and "| race white |" in table and "| age " in table
