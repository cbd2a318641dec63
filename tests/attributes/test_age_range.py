"""The conformal age range: the packaged calibration covers held-out UTKFace faces as measured."""
from __future__ import annotations

import random

import numpy as np
import pytest

from facetrust.attributes import ATTRIBUTE_MODELS, AttributeEstimator
from facetrust.attributes.age import AgeModel
from facetrust.attributes.age_range import LEVEL, fit_age_range, load_age_range
from facetrust.attributes.evaluation import read_attribute_labels
from facetrust.errors import ModelNotAvailableError

#: Coverage of the 80% range on UTKFace's test half (docs/attributes.md, `facetrust eval attributes --half test`).
HELD_OUT_COVERAGE = {"age": 0.802, "age-plain": 0.806, "age-omz": 0.802}
SAMPLE = 100


def test_every_age_model_has_a_packaged_range_at_the_stated_level():
    age_models = [n for n in ATTRIBUTE_MODELS.names() if issubclass(ATTRIBUTE_MODELS.get_class(n), AgeModel)]
    assert set(age_models) == set(HELD_OUT_COVERAGE)
    for name in age_models:
        age_range = load_age_range(name)
        assert age_range.level == LEVEL and age_range.q_low < 0 < age_range.q_high
        low, high = age_range.bounds(np.array([0.5, 30.0, 79.0]))
        assert (low >= 0).all() and (low <= np.array([0.5, 30, 79])).all() and (high >= np.array([0.5, 30, 79])).all()
    with pytest.raises(ModelNotAvailableError):
        load_age_range("height")


def test_conformal_fit_covers_new_draws_of_the_same_distribution():
    # Whole-year ages with errors that grow with age, as an age model's do: the range fitted on 2,000
    # draws must hold 80% of fresh ones, within 3 standard errors of the fit's own sampling.
    rng = np.random.default_rng(0)

    def draw(n):
        estimate = rng.uniform(1, 80, n)
        return np.floor(np.maximum(0, estimate + rng.normal(0, 0.2 * estimate + 1, n))), estimate

    fit, widths = fit_age_range(*draw(2000))
    true, estimate = draw(20000)
    low, high = fit.bounds(estimate)
    assert abs(((true >= low) & (true <= high)).mean() - LEVEL) <= 3 * np.sqrt(LEVEL * (1 - LEVEL) / 2000)
    assert widths[str(fit.offset)] == min(widths.values())
    with pytest.raises(ValueError, match="too few"):
        fit_age_range(np.array([30.0, 31.0]), np.array([29.0, 33.0]))


@pytest.fixture(scope="module")
def held_out_results(shared):
    """Every age model's result on a seeded sample of UTKFace's test half (faces the range was not fitted on),
    with the detector the calibration used."""
    from facetrust.analyzer import FaceAnalyzer
    from facetrust.io.image import load_image

    analyzer = FaceAnalyzer(detector="dlib-hog")
    items = [i for i in read_attribute_labels(shared / "data/utkface/labels.csv", half="test") if i.age is not None]
    items = random.Random(0).sample(items, SAMPLE)
    estimator = AttributeEstimator(tuple(HELD_OUT_COVERAGE))
    out = []
    for item in items:
        image = load_image(item.path)
        faces = analyzer.detect_rgb(image)
        if faces:
            out.append((item.age, estimator.estimate(image, [faces[0].box])[0]))
    return out


@pytest.mark.parametrize("name", sorted(HELD_OUT_COVERAGE))
def test_range_covers_held_out_faces_as_measured(held_out_results, name):
    hits = [r[name]["low"] <= age <= r[name]["high"] for age, r in held_out_results if r[name]["status"] == "ok"]
    assert len(hits) >= 0.9 * SAMPLE
    # Binomial: within 3 standard errors of the coverage measured on the whole test half.
    p = HELD_OUT_COVERAGE[name]
    assert abs(np.mean(hits) - p) <= 3 * np.sqrt(p * (1 - p) / len(hits))
    assert all(r[name]["range_probability"] == LEVEL for _, r in held_out_results if r[name]["status"] == "ok")
