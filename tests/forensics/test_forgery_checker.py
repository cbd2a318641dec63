"""ForgeryChecker on real photos: decisions, heat-map regions, unavailable results, typed errors."""
from __future__ import annotations

import numpy as np
import pytest

from facetrust.errors import ConfigError, FaceNotFoundError
from facetrust.types import Face


def test_real_photo_gets_a_scored_result_with_a_region_inside_the_image(sbi_checker, faces_dir) -> None:
    from facetrust.forensics.checker import heatmap_on_image

    image = sbi_checker.analyzer.load(faces_dir / "examples" / "obama.jpg")
    [item] = sbi_checker.check_rgb(image)
    result = item.result
    assert result.available and 0.0 <= result.score <= 1.0 and result.model == "sbi"
    assert result.status == ("fake" if result.score >= 0.5 else "real")
    assert result.heatmap.shape == (24, 24) and result.crop_size == 96
    placed = heatmap_on_image(result, image.shape[:2])
    assert placed.shape == image.shape[:2] and placed.max() <= 1.0
    x1, y1, x2, y2 = item.face.box
    # the heat map lives on the face crop: nothing far outside the face box
    assert placed[: max(0, int(y1 - (y2 - y1))), :].max(initial=0.0) == 0.0
    data = item.to_dict()
    assert data["forgery"]["score"] == round(result.score, 6) and data["forgery"]["model"] == "sbi"


def test_face_too_small_is_unavailable_not_guessed(sbi_checker, faces_dir) -> None:
    import cv2

    image = sbi_checker.analyzer.load(faces_dir / "examples" / "obama.jpg")
    face = sbi_checker.detect(image)[0]
    scale = 20.0 / (face.box[2] - face.box[0])  # a 20-px face, under the 32-px minimum
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    results = sbi_checker.check_rgb(small)
    assert results, "the enlarged detection copy still finds the face"
    result = results[0].result
    assert result.status == "unavailable" and result.score is None and "too small" in result.reason
    assert result.to_dict()["reason_code"] == "face_too_small"
    assert result.is_fake is None and result.to_dict()["score"] is None and result.to_dict()["is_fake"] is None


def test_no_face_raises_typed_error_and_empty_list(sbi_checker) -> None:
    from skimage import data

    coffee = data.coffee()
    assert sbi_checker.check_rgb(coffee) == []
    with pytest.raises(FaceNotFoundError):
        sbi_checker.check(coffee)


def test_bad_configuration_is_a_config_error() -> None:
    from facetrust.forensics.checker import ForgeryChecker

    with pytest.raises(ConfigError):
        ForgeryChecker("no-such-detector")
    with pytest.raises(ConfigError):
        ForgeryChecker("sbi", threshold=1.5)


def test_annotate_adds_forgery_extras_to_analyzer_faces(sbi_checker, astronaut) -> None:
    faces = sbi_checker.analyzer.analyze(astronaut, embed=False)
    sbi_checker.annotate(astronaut, faces)
    assert faces and faces[0].extras["forgery"]["status"] in ("real", "fake")
    assert "forgery" in faces[0].to_dict()


def test_huge_image_is_downscaled_for_detection_only(sbi_checker, astronaut) -> None:
    import cv2

    from facetrust.forensics.faces import DETECT_MAX_SIDE

    huge = cv2.resize(astronaut, None, fx=6, fy=6, interpolation=cv2.INTER_LINEAR)  # 3072 px
    assert max(huge.shape) > DETECT_MAX_SIDE
    normal = sbi_checker.check_rgb(astronaut)[0]
    big = sbi_checker.check_rgb(huge)[0]
    np.testing.assert_allclose(np.array(big.face.box) / 6, normal.face.box, atol=6)
    assert big.result.available


def test_fusion_is_the_mean_of_its_members(forgery_analyzer, astronaut) -> None:
    from facetrust.forensics.checker import ForgeryChecker

    fusion = ForgeryChecker("fusion", analyzer=forgery_analyzer)
    face = fusion.detect(astronaut)[0]
    members = [m.predict(astronaut, face.landmarks).score for m in fusion.detector.members]
    assert fusion.check_face(astronaut, face).score == pytest.approx(np.mean(members))


def test_per_model_scores_are_reported_like_liveness(forgery_analyzer, astronaut, sbi_checker) -> None:
    from facetrust.forensics.checker import ForgeryChecker

    fused = ForgeryChecker("fusion", analyzer=forgery_analyzer).check_rgb(astronaut)[0].to_dict()["forgery"]
    assert set(fused["model_scores"]) == {"sbi", "mesonet"}
    assert fused["score"] == pytest.approx(np.mean(list(fused["model_scores"].values())), abs=1e-5)
    alone = sbi_checker.check_rgb(astronaut)[0].to_dict()["forgery"]
    assert alone["model_scores"] == {"sbi": alone["score"]}
    assert alone["model_scores"]["sbi"] == pytest.approx(fused["model_scores"]["sbi"], abs=1e-6)


def test_grayscale_face_is_unavailable(forgery_analyzer, astronaut, sbi_checker) -> None:
    import cv2

    from facetrust.forensics.checker import ForgeryChecker

    gray = cv2.cvtColor(cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    for name in ("mesonet", "fusion", "sbi"):  # sbi reads luminance, but its threshold is calibrated on colour
        result = ForgeryChecker(name, analyzer=forgery_analyzer).check_rgb(gray)[0].result
        assert result.status == "unavailable" and "grayscale" in result.reason and result.reason_code == "grayscale"
        data = result.to_dict()
        assert data["is_fake"] is None and data["score"] is None and data["model_scores"] == {}
    assert sbi_checker.check_rgb(astronaut)[0].result.available  # the same face in colour is judged


def test_crop_tighter_than_the_face_is_unavailable(forgery_analyzer, astronaut) -> None:
    from facetrust.forensics.checker import ForgeryChecker

    checker = ForgeryChecker("sbi", analyzer=forgery_analyzer, crop_fallback=True)
    x1, y1, x2, y2 = (int(v) for v in checker.detect(astronaut)[0].box)
    inner = astronaut[y1 + (y2 - y1) // 5:y2 - (y2 - y1) // 10, x1 + (x2 - x1) // 8:x2 - (x2 - x1) // 8]
    result = checker.check_rgb(inner)[0].result
    assert result.status == "unavailable" and "fills the image" in result.reason and result.is_fake is None
    assert result.reason_code == "tight_crop"
    assert checker.check_rgb(astronaut)[0].result.available


def test_track_decision_in_analyze_has_a_null_is_fake_when_unknown(sbi_checker, faces_dir) -> None:
    import cv2

    from facetrust.forensics.check import ForgeryCheck

    image = sbi_checker.analyzer.load(faces_dir / "examples" / "obama.jpg")
    face = sbi_checker.detect(image)[0]
    scale = 20.0 / (face.box[2] - face.box[0])  # too small: unavailable
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    unknown_frame = sbi_checker.check_rgb(small)[0].result.to_dict()
    decided_frame = sbi_checker.check_rgb(image)[0].result.to_dict()
    aggregate = ForgeryCheck(sbi_checker.analyzer, model="sbi").aggregate
    unknown = aggregate([unknown_frame] * 2)
    assert unknown["status"] == "unavailable" and unknown["is_fake"] is None and unknown["score"] is None
    assert unknown["reason_codes"] == ["face_too_small"]
    decided = aggregate([decided_frame, unknown_frame])
    assert decided["is_fake"] is (decided["status"] == "fake") and decided["unavailable_frames"] == 1


def test_a_face_without_landmarks_is_unavailable_with_its_code(sbi_checker, faces_dir) -> None:
    image = sbi_checker.analyzer.load(faces_dir / "examples" / "obama.jpg")
    face = sbi_checker.detect(image)[0]
    bare = Face(face.box, face.score, None)
    result = sbi_checker.check_face(image, bare)
    assert result.status == "unavailable" and result.is_fake is None and result.reason_code == "no_landmarks"
