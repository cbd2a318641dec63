"""Tight face crops (no scene around the face) are ``unavailable`` with the reason; scene images are judged."""
from __future__ import annotations

import re

import pytest

from facetrust.liveness import MIN_CONTEXT_SCALE, LivenessChecker
from facetrust.liveness.checker import context_scale

UTKFACE_CROP = "data/utkface/images/36_1_0_20170104171550313.jpg.chip.jpg"
OBAMA = "data/faces/ageitgey_face_recognition/examples/obama.jpg"


def assert_tight(result) -> None:
    assert result.status == "unavailable" and result.score is None and result.is_live is None
    assert re.fullmatch(r"tight face crop: the face fills the image, and the model needs the scene around it "
                        r"\(2\.7x the face box\); this image holds [01]\.\d\dx — give it the camera frame, "
                        r"with the face smaller in it", result.reason), result.reason
    assert result.reason_code == "tight_crop"
    record = result.to_dict()
    assert record["is_live"] is None and record["score"] is None


def test_context_scale_is_the_reference_crops_capped_scale():
    # 200x200 image, integer box (10, 10, 180, 180): the 2.7x window is capped to 199 / 180.
    assert context_scale((10.0, 10.0, 189.0, 189.0), 200, 200, 2.7) == pytest.approx(199 / 180)
    # 640x480 (w x h), box 100x120: 2.7x fits, nothing is capped.
    assert context_scale((300.0, 200.0, 399.0, 319.0), 640, 480, 2.7) == 2.7
    assert MIN_CONTEXT_SCALE == 1.5


def test_a_utkface_crop_is_unavailable_as_a_tight_crop(checker, shared):
    results = checker.check(shared / UTKFACE_CROP)
    assert len(results) == 1
    assert_tight(results[0].result)


def test_an_extracted_112px_arcface_crop_is_unavailable_as_a_tight_crop(checker, shared):
    faces = checker.analyzer.extract(shared / OBAMA, size=112)
    crop = faces[0].aligned
    assert crop.shape == (112, 112, 3)
    results = checker.check_rgb(crop)
    assert len(results) == 1
    assert_tight(results[0].result)


def test_scene_images_are_judged(checker, shared, spoof_dir):
    for path in (shared / OBAMA, spoof_dir / "silent_face" / "image_T1.jpg"):
        result = checker.check(path)[0].result
        assert result.status in ("live", "spoof") and result.is_live in (True, False), path


def test_the_rule_follows_the_framing_of_one_real_face(checker, spoof_dir):
    """The live sample cut around its own face box: 1.3 boxes of framing is a crop, 2.2 is judged."""
    image = checker.analyzer.load(spoof_dir / "silent_face" / "image_T1.jpg")
    x1, y1, x2, y2 = checker.analyzer.detect(image)[0].box
    cx, cy, w, h = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1

    def framed(factor: float):
        top, left = int(cy - factor * h / 2), int(cx - factor * w / 2)
        return image[max(top, 0): int(cy + factor * h / 2), max(left, 0): int(cx + factor * w / 2)]

    assert_tight(checker.check_rgb(framed(1.3))[0].result)
    assert checker.check_rgb(framed(2.2))[0].result.status in ("live", "spoof")


def test_cue_models_read_the_face_alone_and_are_not_held_to_the_rule(checker, spoof_dir):
    image = checker.analyzer.load(spoof_dir / "silent_face" / "image_T1.jpg")
    x1, y1, x2, y2 = checker.analyzer.detect(image)[0].box
    cx, cy, w, h = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
    crop = image[int(cy - 0.65 * h): int(cy + 0.65 * h), int(cx - 0.65 * w): int(cx + 0.65 * w)]
    texture = LivenessChecker(model="lbp-colour", analyzer=checker.analyzer).check_rgb(crop)[0].result
    assert texture.status == "unavailable" and "not fitted" in texture.reason and len(texture.model_scores) == 60
