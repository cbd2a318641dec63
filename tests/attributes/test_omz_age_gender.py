"""The OMZ age-gender-recognition-retail-0013 models (age-omz, gender-omz) on real UTKFace faces, and bad input."""
from __future__ import annotations

import random
import shutil

import numpy as np
import pytest

from facetrust.attributes import AttributeEstimator
from facetrust.attributes.evaluation import read_attribute_labels
from facetrust.errors import ChecksumMismatchError, ModelNotAvailableError

#: Measured on UTKFace's test half, ages 18-75 (docs/attributes.md): age MAE, the per-face standard
#: deviation of the absolute error (n = 2,620), and gender accuracy.
ADULT_MAE, ADULT_ERROR_SD, ADULT_GENDER_ACCURACY = 9.672, 9.136, 0.968
SAMPLE = 40


@pytest.fixture(scope="module")
def adults(shared):
    """A seeded sample of adult faces (18-75, the model's training range) from UTKFace's test half."""
    from facetrust.analyzer import FaceAnalyzer
    from facetrust.io.image import load_image

    items = [i for i in read_attribute_labels(shared / "data/utkface/labels.csv", half="test")
             if i.age is not None and 18 <= i.age <= 75 and i.gender is not None]
    analyzer = FaceAnalyzer(detector="dlib-hog")
    out = []
    for item in random.Random(1).sample(items, SAMPLE):
        image = load_image(item.path)
        faces = analyzer.detect_rgb(image)
        if faces:
            out.append((item, image, faces[0].box))
    return out


@pytest.fixture(scope="module")
def estimator():
    return AttributeEstimator(("age-omz", "gender-omz"))


def test_age_and_gender_of_real_adults_as_measured(estimator, adults):
    results = [estimator.estimate(image, [box])[0] for _, image, box in adults]
    ok = [(item, r) for (item, _, _), r in zip(adults, results) if r["age-omz"]["status"] == "ok"]
    assert len(ok) >= 0.9 * SAMPLE
    errors = np.array([abs(r["age-omz"]["value"] - item.age) for item, r in ok])
    # Within 3 standard errors of the held-out adult MAE.
    assert errors.mean() <= ADULT_MAE + 3 * ADULT_ERROR_SD / np.sqrt(len(errors))
    correct = np.mean([r["gender-omz"]["label"] == item.gender for item, r in ok])
    p = ADULT_GENDER_ACCURACY
    assert correct >= p - 3 * np.sqrt(p * (1 - p) / len(ok))
    item, r = ok[0]
    assert r["age-omz"]["model"] == r["gender-omz"]["model"] == "omz-age-gender-0013"
    assert r["age-omz"]["low"] <= r["age-omz"]["value"] <= r["age-omz"]["high"]
    assert sum(r["gender-omz"]["probabilities"].values()) == pytest.approx(1, abs=1e-3)


def test_grayscale_face_is_unavailable_with_a_reason(estimator, adults):
    _, image, box = adults[0]
    grey = np.repeat(image.mean(axis=2, keepdims=True), 3, axis=2).astype(np.uint8)
    (result,) = estimator.estimate(grey, [box])
    for name in ("age-omz", "gender-omz"):
        assert result[name]["status"] == "unavailable" and "grayscale" in result[name]["reason"]
        assert result[name]["reason_code"] == "grayscale"
        assert "value" not in result[name] and "label" not in result[name]


def test_missing_or_corrupted_model_is_a_typed_error(tmp_path, monkeypatch, shared):
    from facetrust.attributes.omz_age_gender import OmzAge, OmzGender

    monkeypatch.setenv("FACETRUST_MODEL_DIR", str(tmp_path))
    monkeypatch.setenv("FACETRUST_CACHE_DIR", str(tmp_path / "cache"))
    for cls in (OmzAge, OmzGender):
        with pytest.raises(ModelNotAvailableError, match="age-gender-0013"):
            cls()
    folder = tmp_path / "attributes" / "openvino"
    shutil.copytree(shared / "models" / "attributes" / "openvino", folder)
    (folder / "age-gender-recognition-retail-0013.bin").chmod(0o644)
    with (folder / "age-gender-recognition-retail-0013.bin").open("r+b") as stream:
        stream.seek(1000)
        stream.write(b"\x00" * 16)
    with pytest.raises(ChecksumMismatchError):
        OmzAge()


def test_box_scale_option_is_checked_before_loading():
    from facetrust.attributes import ATTRIBUTE_MODELS
    from facetrust.errors import ConfigError

    with pytest.raises(ConfigError, match="box_scale"):
        ATTRIBUTE_MODELS.create("age-omz", box_scale=5.0)
