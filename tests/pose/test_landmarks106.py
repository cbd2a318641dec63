"""InsightFace's 106 landmarks on real faces; boxes too small to read; a missing model."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from pose_images import FRONTAL, TURNED

from facetrust.errors import ModelNotAvailableError, PoseError
from facetrust.pose import LANDMARK_MODELS
from facetrust.pose.landmarks106 import FIVE_POINTS

#: The 106 points' eye centres lie within this many inter-eye distances of YuNet's eyes: the 99th
#: percentile of the farther eye over 300 UTKFace and LFW-a faces (bench/pose_eval.py, docs/pose.md).
EYE_TOLERANCE = 0.25
IMAGES = (FRONTAL, TURNED, "data/lfw/Serena_Williams/Serena_Williams_0001.jpg",
          "data/faces/ageitgey_face_recognition/examples/biden.jpg")


@pytest.fixture(scope="module")
def landmarks():
    return LANDMARK_MODELS.create("landmarks106")


@pytest.mark.parametrize("relative", IMAGES)
def test_eye_centres_fall_on_the_detector_eyes(relative, shared, yunet, landmarks):
    image = yunet.load(shared / relative)
    face = max(yunet.detect_rgb(image), key=lambda f: f.area)
    points = landmarks.locate(image, face.box)
    assert points.shape == (106, 2) and np.all(np.isfinite(points))
    eye_distance = np.linalg.norm(face.landmarks[1] - face.landmarks[0])
    for i in (0, 1):
        assert np.linalg.norm(points[FIVE_POINTS[i]] - face.landmarks[i]) / eye_distance <= EYE_TOLERANCE
    x1, y1, x2, y2 = face.box
    centre = points.mean(axis=0)
    assert x1 < centre[0] < x2 and y1 < centre[1] < y2


def test_points_follow_the_face_when_the_image_is_padded(shared, yunet, landmarks):
    """Image coordinates, not crop coordinates: moving the face moves the points by as much."""
    image = yunet.load(shared / FRONTAL)
    face = yunet.detect_rgb(image)[0]
    shift = 150
    # Black padding: the crop outside the image is black either way, so the crop is the same.
    big = cv2.copyMakeBorder(image, shift, shift, shift, shift, cv2.BORDER_CONSTANT, value=0)
    box = tuple(v + shift for v in face.box)
    moved = landmarks.locate(big, box) - shift
    assert np.abs(moved - landmarks.locate(image, face.box)).max() < 0.01


@pytest.mark.parametrize("box", [(10.0, 10.0, 22.0, 24.0), (50.0, 50.0, 50.0, 80.0), (0.0, 0.0, float("nan"), 9.0)])
def test_box_too_small_or_empty_is_a_pose_error(box, shared, yunet, landmarks):
    image = yunet.load(shared / FRONTAL)
    with pytest.raises(PoseError):
        landmarks.locate(image, box)


def test_grey_or_wrong_image_is_a_pose_error(landmarks):
    with pytest.raises(PoseError, match="RGB uint8"):
        landmarks.locate(np.zeros((100, 100), np.uint8), (10, 10, 90, 90))


@pytest.mark.parametrize("registry,name", [("landmarks", "landmarks106"), ("pose", "pose-adas"),
                                           ("pose", "pose-106")])
def test_missing_model_is_a_typed_error(registry, name, tmp_path, monkeypatch):
    from facetrust.pose import POSE_ESTIMATORS

    monkeypatch.setenv("FACETRUST_MODEL_DIR", str(tmp_path))
    monkeypatch.setenv("FACETRUST_CACHE_DIR", str(tmp_path))
    with pytest.raises(ModelNotAvailableError, match="not found"):
        (LANDMARK_MODELS if registry == "landmarks" else POSE_ESTIMATORS).create(name)
