"""The default age model: 14 jittered chips averaged, then a monotone map shipped with a checksum."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from facetrust.attributes.age import AGES, MAP_FILE, DlibAge, DlibAgePlain, jittered_chips, load_age_map
from facetrust.attributes.inputs import FaceInputs
from facetrust.attributes.packaged import packaged_model
from facetrust.errors import ChecksumMismatchError, ModelNotAvailableError


@pytest.fixture(scope="module")
def faces(shared, analyzer):
    """The two faces of a real photo (Obama and Biden)."""
    from facetrust.io.image import load_image

    image = load_image(shared / "data/faces/ageitgey_face_recognition/examples/two_people.jpg")
    return [FaceInputs(image, face.box) for face in analyzer.detect_rgb(image)]


def test_default_age_is_the_mean_of_its_passes_then_mapped(faces):
    default, plain = DlibAge(), DlibAgePlain()
    knots = json.loads(packaged_model(MAP_FILE).read_text())
    for face, age in zip(faces, default.ages(faces)):
        chips = jittered_chips(face)
        assert len(chips) == 14
        for chip, mirrored in zip(chips[:7], chips[7:]):
            np.testing.assert_array_equal(mirrored, chip[:, ::-1])
        # Each pass on its own, averaged by hand: the batch must give the same age.
        passes = np.array([plain.run(chip[None])[0] for chip in chips])
        assert len({round(float(p @ AGES), 3) for p in passes}) > 1  # the jittered looks do differ
        expected = passes.mean(axis=0) @ AGES / passes.mean(axis=0).sum()
        assert age == pytest.approx(np.interp(expected, knots["x"], knots["y"]), abs=1e-4)
    np.testing.assert_allclose(plain.ages(faces), plain.probabilities(faces) @ AGES)


def test_age_map_is_monotone_and_checksum_checked(tmp_path):
    age_map = load_age_map()
    assert np.all(np.diff(age_map.x) > 0) and np.all(np.diff(age_map.y) >= 0)
    assert np.all(np.diff(age_map(np.linspace(-5, 90, 500))) >= 0)
    with pytest.raises(ModelNotAvailableError):
        packaged_model(MAP_FILE, tmp_path)
    copy = tmp_path / MAP_FILE
    shutil.copy(packaged_model(MAP_FILE), copy)
    copy.write_text(copy.read_text().replace('"y": [', '"y": [90, ', 1))
    with pytest.raises(ChecksumMismatchError):
        packaged_model(MAP_FILE, tmp_path)


def test_both_dlib_age_models_answer_with_their_own_name_and_range(faces):
    (default,), (plain,) = DlibAge().estimate(faces[:1]), DlibAgePlain().estimate(faces[:1])
    assert default["model"] == "dlib-age-v1-jitter-map" and plain["model"] == "dlib-age-v1"
    for result in (default, plain):
        assert result["status"] == "ok" and result["low"] <= result["value"] <= result["high"]
