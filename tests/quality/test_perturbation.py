"""Perturbation features (inputs of the learned assessor) on a real face."""
from __future__ import annotations

import numpy as np
import pytest

from facetrust.quality.perturbation import PERTURBATION_NAMES, moved_box, perturbation_features
from facetrust.types import Detection


@pytest.fixture(scope="module")
def obama(analyzer, faces_dir):
    image = analyzer.load(faces_dir / "examples" / "obama.jpg")
    face = analyzer.analyze_rgb(image)[0]
    return image, face, Detection(face.box, face.score, face.landmarks)


def test_moved_box_shifts_and_scales_about_the_centre():
    assert moved_box((10, 20, 110, 220), 0.1, -0.05, 1.0) == pytest.approx((20, 10, 120, 210))
    assert moved_box((0, 0, 100, 100), 0.0, 0.0, 0.5) == pytest.approx((25, 25, 75, 75))


def test_features_of_a_clear_face_and_embedding_reuse(analyzer, obama):
    image, face, detection = obama
    embedding, values = perturbation_features(analyzer.recognizer, image, detection)
    assert values.shape == (len(PERTURBATION_NAMES),)
    # The unperturbed embedding is the pipeline's own.
    assert float(embedding @ face.embedding) == pytest.approx(1.0, abs=1e-6)
    cosines, spread = values[:3], values[3]
    assert np.all((cosines > 0.95) & (cosines <= 1.0 + 1e-6)) and 0.0 <= spread < 0.05
    # Given the face's embedding, only the perturbed crops are embedded: same values.
    reused, again = perturbation_features(analyzer.recognizer, image, detection, embedding=face.embedding)
    np.testing.assert_allclose(again, values, atol=1e-6)
    np.testing.assert_array_equal(reused, face.embedding)


def test_a_half_occluded_face_moves_more_under_every_perturbation(analyzer, obama):
    image, face, detection = obama
    _, clear = perturbation_features(analyzer.recognizer, image, detection)
    occluded = image.copy()
    x1, y1, x2, y2 = (int(v) for v in face.box)
    occluded[y1:y2, x1:(x1 + x2) // 2] = 0  # one half of the face blacked out
    _, hidden = perturbation_features(analyzer.recognizer, occluded, detection)
    assert np.all(hidden[:3] < clear[:3]), (clear, hidden)  # every cosine drops
    assert hidden[3] > 2 * clear[3]  # and the landmark fit is much less certain
