"""LivenessChecker on real images: the spoof samples, several faces, and every kind of bad input."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from facetrust.errors import ConfigError, FaceNotFoundError
from facetrust.liveness import LIVENESS_MODELS, MIN_FACE_SIDE, LivenessChecker
from facetrust.types import Detection

EXAMPLES = "faces/ageitgey_face_recognition"


def test_spoof_samples_are_classified_correctly_by_the_default_configuration(checker, spoof_dir):
    with (spoof_dir / "labels.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert {r["attack_type"] for r in rows} == {"print", "replay", "none"}
    for row in rows:
        results = checker.check(spoof_dir / row["file"])
        assert len(results) == 1, row["file"]
        result = results[0].result
        assert result.status == row["label"], (row["file"], result)
        assert result.is_live == (row["label"] == "live")
        assert 0.0 <= result.score <= 1.0 and result.threshold == 0.5 and result.model == "minifasnet"
        assert set(result.model_scores) == {"minifasnet-v2", "minifasnet-v1se"}


def test_fused_score_is_the_mean_of_the_two_networks(checker, spoof_dir):
    image = checker.analyzer.load(spoof_dir / "silent_face" / "image_F1.jpg")
    box = checker.analyzer.detect(image)[0].box
    fused = checker.model.predict(image, box)
    singles = {name: LIVENESS_MODELS.create(name).predict(image, box) for name in ("minifasnet-v2", "minifasnet-v1se")}
    for name, single in singles.items():
        assert single.model_scores == {name: pytest.approx(fused.model_scores[name], abs=1e-6)}
    assert fused.score == pytest.approx(np.mean([s.score for s in singles.values()]), abs=1e-6)


def test_decision_accepts_ties_at_the_threshold(checker, spoof_dir):
    image = checker.analyzer.load(spoof_dir / "silent_face" / "image_T1.jpg")
    face = checker.analyzer.detect(image)[0]
    score = checker.check_face(image, face).score
    assert LivenessChecker(threshold=score, analyzer=checker.analyzer).check_face(image, face).status == "live"
    above = float(np.nextafter(score, 1.0))
    assert LivenessChecker(threshold=above, analyzer=checker.analyzer).check_face(image, face).status == "spoof"


def test_several_faces_each_get_a_result_largest_first(checker, shared):
    path = shared / "data" / EXAMPLES / "examples" / "two_people.jpg"
    results = checker.check(path)
    assert len(results) == 2
    assert results[0].face.area >= results[1].face.area
    assert all(r.result.available for r in results)
    assert checker.check_subject(path).face.box == results[0].face.box
    record = json.loads(json.dumps(results[0].to_dict()))
    assert record["liveness"]["status"] in ("live", "spoof") and "box" in record


def test_annotate_faces_found_by_an_analyzer(checker, spoof_dir):
    image = checker.analyzer.load(spoof_dir / "silent_face" / "image_F2.jpg")
    faces = checker.analyzer.analyze_rgb(image, embed=False)
    checker.annotate(image, faces)
    assert faces[0].extras["liveness"]["status"] == "spoof"
    assert json.loads(json.dumps(faces[0].to_dict()))["liveness"]["model"] == "minifasnet"


def test_grayscale_input_is_unavailable_not_guessed(checker, shared, spoof_dir):
    lfw_a = checker.check(shared / "data" / "lfw" / "Aaron_Eckhart" / "Aaron_Eckhart_0001.jpg")[0].result
    live = checker.analyzer.load(spoof_dir / "silent_face" / "image_T1.jpg")
    gray = np.repeat(live.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
    from_colour = checker.check(gray)[0].result
    for result in (lfw_a, from_colour):
        assert result.status == "unavailable" and result.score is None and result.is_live is None
        assert "grayscale" in result.reason and result.reason_code == "grayscale"
        assert result.to_dict()["reason_code"] == "grayscale"
        assert result.to_dict()["score"] is None and result.to_dict()["is_live"] is None


def test_face_cut_by_the_image_border_is_unavailable(checker, shared):
    result = checker.check(shared / "data" / EXAMPLES / "tests" / "test_images" / "obama_partial_face.jpg")[0].result
    assert result.status == "unavailable" and "border" in result.reason and result.reason_code == "face_at_border"


def test_face_below_the_minimum_size_is_unavailable(checker, spoof_dir):
    image = checker.analyzer.load(spoof_dir / "silent_face" / "image_T1.jpg")
    assert MIN_FACE_SIDE == 30  # ceil(80 / 2.7): the 2.7x crop is never upsampled
    small = checker.check_face(image, Detection((200.0, 200.0, 229.0, 240.0), 1.0))
    assert small.status == "unavailable" and "too small: 29 px" in small.reason
    assert small.reason_code == "face_too_small"
    assert checker.check_face(image, Detection((200.0, 200.0, 230.0, 240.0), 1.0)).available


def test_image_without_a_face_raises(checker):
    from skimage import data

    with pytest.raises(FaceNotFoundError, match="no face"):
        checker.check(data.coffee())


def test_bad_configuration_fails_fast():
    with pytest.raises(ConfigError, match="unknown liveness model"):
        LivenessChecker(model="nope")
    with pytest.raises(ConfigError, match="threshold"):
        LivenessChecker(threshold=1.5)
