"""MesoNet from the authors' Keras weights, on the authors' own test faces."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def _mesonet_images(deepfake_dir: Path) -> list[tuple[Path, bool]]:
    folder = deepfake_dir / "mesonet_test_images"
    return [(p, p.parent.name == "df") for p in sorted(folder.glob("*/*.jpg"))]


def test_weights_load_in_creation_order(shared) -> None:
    from facetrust.forensics.mesonet import load_keras_weights
    from facetrust.zoo import model_file

    weights = load_keras_weights(model_file("mesoinception-df"))
    shapes = [layer["kernel"].shape for layer in weights["conv2d"]]
    # InceptionLayer(1, 4, 4, 2) then (2, 4, 4, 2), then two 5x5 convolutions (classifiers.py)
    assert shapes[:7] == [(1, 1, 3, 1), (1, 1, 3, 4), (3, 3, 4, 4), (1, 1, 3, 4), (3, 3, 4, 4), (1, 1, 3, 2), (3, 3, 2, 2)]
    assert shapes[7] == (1, 1, 11, 2) and shapes[14:] == [(5, 5, 12, 16), (5, 5, 16, 16)]
    assert weights["dense"][0]["kernel"].shape == (1024, 16)


@pytest.mark.parametrize("name", ["meso4-df", "mesoinception-df"])
def test_deepfake_weights_separate_the_authors_test_faces(name: str, deepfake_dir: Path) -> None:
    """The authors' example resizes the whole 256-ish face image; P(real) near 1 means real,
    so our forgery score (1 - P(real)) must put both deepfakes on the fake side of 0.5."""
    import cv2

    from facetrust.forensics import FORGERY_DETECTORS
    from facetrust.io.image import load_image

    detector = FORGERY_DETECTORS.create(name)
    images = _mesonet_images(deepfake_dir)
    crops = np.stack([cv2.resize(load_image(path), (256, 256)) for path, _ in images])
    scores = detector.score_crops(crops)
    labels = np.array([fake for _, fake in images])
    assert labels.sum() == 2 and len(labels) == 4
    assert np.all(scores[labels] >= 0.5) and np.all(scores[~labels] < 0.5), scores


def test_checker_pipeline_on_the_authors_test_faces(deepfake_dir: Path, forgery_analyzer) -> None:
    """Detection, landmarks and MesoNet's own rotated crop, end to end."""
    from facetrust.forensics.checker import ForgeryChecker

    checker = ForgeryChecker("mesonet", analyzer=forgery_analyzer)
    for path, fake in _mesonet_images(deepfake_dir):
        result = checker.check(path)[0].result
        assert result.available and result.model == "mesonet"
        assert result.is_fake == fake, (path.name, result.score)
