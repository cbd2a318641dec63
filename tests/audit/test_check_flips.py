"""Liveness and forgery decisions under perturbations, on real images: the Silent-Face live/print/replay
samples (camera frames with context, in the liveness check's scope) and real/fake DFDC face crops."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from facetrust.audit.cache import RobustnessCache
from facetrust.audit.check_flips import CheckUnderTest, audit_check_flips, forgery_under_test, liveness_under_test
from facetrust.errors import ConfigError
from facetrust.forensics.checker import ForgeryChecker
from facetrust.liveness.checker import LivenessChecker

GRID = {"blur": (1.0, 6.0), "contrast": (0.15,), "sunglasses": (0.9,)}


@pytest.fixture(scope="module")
def spoof_images(shared) -> list[Path]:
    return sorted((shared / "data" / "spoof" / "silent_face").glob("*.jpg"))


@pytest.fixture(scope="module")
def liveness(spoof_images, tmp_path_factory):
    cache_path = tmp_path_factory.mktemp("flips") / "robustness.sqlite"
    calls = []
    check = liveness_under_test(LivenessChecker())
    decide = check.decide

    def counted(image, detection):  # counts the real check's calls, to see what the cache saves
        calls.append(1)
        return decide(image, detection)

    counted_check = CheckUnderTest(check.name, check.key, check.load, check.detect, counted)
    with RobustnessCache(cache_path) as cache:
        first = audit_check_flips(spoof_images, counted_check, GRID, progress=False, cache=cache)
    return first, cache_path, counted_check, calls


def test_liveness_flips_on_the_silent_face_samples(liveness, spoof_images):
    result, _, _, calls = liveness
    assert result["check"] == "liveness" and result["images"] == len(spoof_images) == 3
    assert result["clean"]["statuses"] == {"live": 1, "spoof": 2}  # docs/liveness.md: T1 live, F1/F2 spoof
    assert len(calls) == 3 * (1 + 4)  # clean + 4 conditions, each image once
    assert [level["severity"] for level in result["perturbations"]["blur"]] == [1.0, 6.0]
    for levels in result["perturbations"].values():
        for level in levels:
            # every decided image is either unchanged, flipped or declined
            changed = sum(n for name, n in level["transitions"].items() if not name.startswith("unavailable->"))
            assert changed == level["flipped"] + level["to_unavailable"]
            assert level["flip_rate"] == pytest.approx(level["flipped"] / 3)
            assert sum(level["statuses"].values()) == 3
    # a 1-px blur moves P(live) a little; a 6-px blur moves it much more
    blur = result["perturbations"]["blur"]
    assert blur[0]["mean_abs_score_change"] < blur[1]["mean_abs_score_change"]


def test_a_rerun_comes_from_the_cache(liveness, spoof_images):
    first, cache_path, check, calls = liveness
    before = len(calls)
    with RobustnessCache(cache_path) as cache:
        again = audit_check_flips(spoof_images, check, GRID, progress=False, cache=cache)
    assert again == first and len(calls) == before
    with sqlite3.connect(cache_path) as db:
        assert db.execute("SELECT COUNT(*) FROM check_results").fetchone()[0] == 3 * 5


def test_forgery_flips_on_dfdc_crops(shared):
    crops = shared / "data" / "deepfake" / "aaronchong888" / "face_crops"
    paths = sorted((crops / "fake").glob("*.png"))[:2] + sorted((crops / "real").glob("*.png"))[:2]
    result = audit_check_flips(paths, forgery_under_test(ForgeryChecker()), {"jpeg": (50.0, 5.0)}, progress=False)
    assert result["check"] == "forgery" and result["images"] + result["no_face"] == 4
    assert set(result["clean"]["statuses"]) <= {"real", "fake", "unavailable"}
    jpeg = result["perturbations"]["jpeg"]
    assert jpeg[0]["mean_abs_score_change"] <= jpeg[1]["mean_abs_score_change"]


def test_bad_input_is_a_clear_error(shared, tmp_path):
    check = liveness_under_test(LivenessChecker())
    with pytest.raises(ConfigError, match="no images"):
        audit_check_flips([], check, GRID, progress=False)
    blank = tmp_path / "blank.png"
    import cv2
    import numpy as np

    cv2.imwrite(str(blank), np.full((120, 160, 3), 128, np.uint8))
    with pytest.raises(ConfigError, match="no face found"):
        audit_check_flips([blank], check, GRID, progress=False)
