"""ForgeryChecker on real photos: decisions, heat-map regions, unavailable results, typed errors."""
from __future__ import annotations

import numpy as np
import pytest

from facetrust.errors import ConfigError, FaceNotFoundError


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
