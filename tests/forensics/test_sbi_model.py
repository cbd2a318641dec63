"""The project's shipped SBI model: checksum, inputs, and that it separates self-blends of
faces it never saw (scikit-image's astronaut, matplotlib's Grace Hopper) from the originals."""
from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest

from facetrust.errors import ConfigError


def test_shipped_model_matches_recorded_checksum_and_recipe() -> None:
    from facetrust.forensics.sbi import model_path
    from facetrust.zoo.store import sha256_of

    path = model_path()  # verifies the sha256 against the recorded one
    recipe = json.loads(resources.files("facetrust").joinpath("models/forensics/sbi-rgbfreq-96.json").read_text())
    assert recipe["sha256"] == sha256_of(path)
    assert path.stat().st_size < 2_000_000


def test_recipe_pins_the_training_files_without_listing_them(shared) -> None:
    from facetrust.forensics.training.data import regenerate_training_files

    text = resources.files("facetrust").joinpath("models/forensics/sbi-rgbfreq-96.json").read_text()
    data = json.loads(text)["data"]
    assert "file_list" not in data and len(text) < 10_000  # the list is regenerated, not shipped
    files, checks = regenerate_training_files(shared.resolve(), data)
    assert checks == {"files": True, "files_per_folder": True, "file_names_sha256": True}
    assert len(files) == 12_928
    assert not any("deepfake" in str(f) for f in files)  # never trained on evaluation data


def test_model_inputs_reject_wrong_shapes() -> None:
    from facetrust.forensics.sbi_inputs import model_inputs

    with pytest.raises(ValueError):
        model_inputs(np.zeros((1, 64, 64, 3), np.uint8))
    feed = model_inputs(np.zeros((2, 96, 96, 3), np.uint8))
    assert feed["rgb"].shape == (2, 3, 96, 96) and feed["spectrum"].shape == (2, 1, 96, 96)


def test_self_blends_of_unseen_faces_score_above_their_originals(sbi_checker, astronaut, grace_hopper_path) -> None:
    import cv2

    from facetrust.evaluation.metrics import auc
    from facetrust.forensics.synthesis import self_blend
    from facetrust.io.image import load_image

    detector = sbi_checker.detector
    scores, fake = [], []
    for image in (astronaut, load_image(grace_hopper_path)):
        face = sbi_checker.detect(image)[0]
        crop, crop_to_image = detector.crop(image, face.landmarks)
        to_crop = cv2.invertAffineTransform(crop_to_image)
        points = face.landmarks @ to_crop[:, :2].T + to_crop[:, 2]
        blends = [self_blend(crop, points, np.random.default_rng(seed)).image for seed in range(8)]
        batch_scores, heatmaps = detector.score_crops(np.stack([crop, *blends]))
        assert heatmaps.shape == (9, 24, 24)
        scores += list(batch_scores)
        fake += [False] + [True] * 8
    assert auc(np.array(scores), np.array(fake)) > 0.5  # better than chance on faces outside the training data


def test_real_colour_photos_outside_training_are_not_flagged(sbi_checker, astronaut, grace_hopper_path) -> None:
    # The release criterion that chose the shipped run (docs/forensics.md): no false alarm on
    # real colour photos that neither training nor the deepfake evaluation data contains.
    from facetrust.io.image import load_image

    for image in (astronaut, load_image(grace_hopper_path)):
        (found,) = sbi_checker.check_rgb(image)
        assert found.result.status == "real", found.result


def test_several_model_files_are_a_score_ensemble(astronaut) -> None:
    # The ensemble averages the members' P(fake) and heat maps (docs/forensics.md, "follow-up 2");
    # with one real model twice the mean must be that model's own output, for every crop of a batch.
    from facetrust.forensics.false_alarms import build_checkers
    from facetrust.forensics.sbi import MODEL_SHA256, SBIDetector, model_path

    crops = np.stack([astronaut[100:196, 160:256], astronaut[20:116, 180:276]])
    single, pair = SBIDetector(), SBIDetector(model_file=[model_path(), str(model_path())])
    (one_scores, one_maps), (two_scores, two_maps) = single.score_crops(crops), pair.score_crops(crops)
    assert two_scores.dtype == np.float64 and two_maps.shape == (2, 24, 24)
    np.testing.assert_allclose(two_scores, one_scores, rtol=0, atol=1e-7)
    np.testing.assert_allclose(two_maps, one_maps, rtol=0, atol=1e-7)
    with pytest.raises(ConfigError, match="at least one model file"):
        SBIDetector(model_file=[])
    _, versions = build_checkers(["sbi"], [model_path(), model_path()])
    assert versions["sbi"] == f"sbi@{MODEL_SHA256[:16]},{MODEL_SHA256[:16]}"  # the score cache keys by every file


def test_a_missing_model_file_is_a_typed_error_before_any_work(tmp_path) -> None:
    # Was a FileNotFoundError traceback from the score cache's checksum (eval forgery-false-alarms --sbi-model).
    from facetrust.errors import ModelNotAvailableError
    from facetrust.forensics.false_alarms import build_checkers
    from facetrust.forensics.sbi import SBIDetector, model_path

    missing = tmp_path / "missing.onnx"
    with pytest.raises(ModelNotAvailableError, match="missing.onnx: no such SBI model file"):
        build_checkers(["sbi"], [model_path(), missing])
    with pytest.raises(ModelNotAvailableError, match="missing.onnx"):
        SBIDetector(model_file=missing)
