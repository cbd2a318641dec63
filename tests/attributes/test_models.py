"""The attribute models on real faces: packaged age and gender, eye state, expression, bad input."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from facetrust.attributes import ATTRIBUTE_MODELS, DEFAULT_ATTRIBUTES, AttributeEstimator
from facetrust.attributes.inputs import MIN_FACE_PX
from facetrust.errors import ChecksumMismatchError, ConfigError, ModelNotAvailableError


@pytest.fixture(scope="module")
def estimator():
    return AttributeEstimator()


@pytest.fixture(scope="module")
def astronaut_box(astronaut, analyzer):
    (face,) = analyzer.detect_rgb(astronaut)
    return face.box


def test_registry_and_defaults_leave_out_the_research_only_model():
    assert set(ATTRIBUTE_MODELS.names()) == {"age", "age-plain", "gender", "age-omz", "gender-omz", "expression", "eyes"}
    assert "expression" not in DEFAULT_ATTRIBUTES
    with pytest.raises(ConfigError, match="unknown attribute model"):
        AttributeEstimator("age,height")


def test_colour_face_gets_every_default_attribute(estimator, astronaut, astronaut_box):
    # skimage's astronaut: Eileen Collins, a woman then in her thirties, eyes open, smiling.
    (result,) = estimator.estimate(astronaut, [astronaut_box])
    assert set(result) == set(DEFAULT_ATTRIBUTES)
    age, gender, eyes = result["age"], result["gender"], result["eyes"]
    assert age["status"] == "ok" and age["low"] <= age["value"] <= age["high"] and 20 <= age["value"] <= 50
    assert 0 < age["range_probability"] <= 1
    assert gender["label"] == "female" and gender["probability"] == max(gender["probabilities"].values())
    assert sum(gender["probabilities"].values()) == pytest.approx(1, abs=1e-3)
    assert eyes["left"]["open"] is True and eyes["right"]["open"] is True
    json.dumps(result)  # JSON-ready as is


def test_grayscale_face_is_unavailable_for_colour_models_not_guessed(estimator, astronaut, astronaut_box):
    grey = np.repeat(astronaut.mean(axis=2, keepdims=True), 3, axis=2).astype(np.uint8)
    (result,) = estimator.estimate(grey, [astronaut_box])
    for name in ("age", "gender"):
        assert result[name]["status"] == "unavailable" and "grayscale" in result[name]["reason"]
        assert result[name]["reason_code"] == "grayscale"
        assert "value" not in result[name] and "label" not in result[name]
    assert result["eyes"]["status"] == "ok"  # landmarks do not need colour


def test_face_too_small_is_a_typed_result(estimator, astronaut, astronaut_box):
    x1, y1 = astronaut_box[:2]
    tiny = (x1, y1, x1 + MIN_FACE_PX - 4, y1 + MIN_FACE_PX - 4)
    (result,) = estimator.estimate(astronaut, [tiny])
    for name in DEFAULT_ATTRIBUTES:
        assert result[name]["status"] == "unavailable" and "px" in result[name]["reason"]
        assert result[name]["reason_code"] == "face_too_small"
    assert estimator.estimate(astronaut, []) == []


def test_several_faces_in_one_batch(estimator, shared, analyzer):
    from facetrust.io.image import load_image

    image = load_image(shared / "data/faces/ageitgey_face_recognition/examples/two_people.jpg")
    faces = analyzer.detect_rgb(image)
    results = estimator.estimate(image, [f.box for f in faces])
    assert len(results) == len(faces) == 2
    assert [r["gender"]["label"] for r in results] == ["male", "male"]  # Obama and Biden


def test_corrupted_or_missing_packaged_model_is_a_typed_error(tmp_path):
    from facetrust.attributes.age import DlibAge
    from facetrust.attributes.packaged import packaged_model

    with pytest.raises(ModelNotAvailableError):
        DlibAge(model_folder=tmp_path)
    copy = tmp_path / "age-v1.onnx"
    shutil.copy(packaged_model("age-v1.onnx"), copy)
    with copy.open("r+b") as stream:
        stream.seek(5000)
        stream.write(b"\x00" * 16)
    with pytest.raises(ChecksumMismatchError):
        DlibAge(model_folder=tmp_path)


def test_missing_expression_model_is_a_typed_error(tmp_path, monkeypatch):
    from facetrust.attributes.expression import MiniXceptionExpression

    monkeypatch.setenv("FACETRUST_MODEL_DIR", str(tmp_path))
    monkeypatch.setenv("FACETRUST_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(ModelNotAvailableError):
        MiniXceptionExpression()
