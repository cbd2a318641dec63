"""dlib detectors + 5-point landmarks on real photos."""
from __future__ import annotations

import numpy as np
import pytest

from facetrust import FaceAnalyzer
from facetrust.types import LANDMARK_ORDER

GROUP_PHOTOS = {
    # file under ../shared/data/faces -> faces visible (counted by eye)
    "ageitgey_face_recognition/examples/two_people.jpg": 2,
    "ageitgey_face_recognition/examples/knn_examples/test/obama_and_biden.jpg": 3,  # + a child, lower right
    "ageitgey_face_recognition/examples/knn_examples/test/kit_with_rose.jpg": 2,
    "timesler_facenet-pytorch/data/multiface.jpg": 6,
}


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    """dlib-hog + dlib's landmarks: the ``dlib`` preset (the default is YuNet since issue 15)."""
    return FaceAnalyzer(preset="dlib")


def _check_landmark_geometry(face) -> None:
    points = dict(zip(LANDMARK_ORDER, face.landmarks))
    x1, y1, x2, y2 = face.box
    assert points["left_eye"][0] < points["right_eye"][0]
    assert points["mouth_left"][0] < points["mouth_right"][0]
    eyes_y = (points["left_eye"][1] + points["right_eye"][1]) / 2
    mouth_y = (points["mouth_left"][1] + points["mouth_right"][1]) / 2
    assert eyes_y < points["nose"][1] < mouth_y
    margin = 0.25 * (x2 - x1)
    assert all(x1 - margin <= x <= x2 + margin and y1 - margin <= y <= y2 + margin for x, y in face.landmarks)


def test_astronaut_has_one_face_with_ordered_landmarks(analyzer, astronaut):
    faces = analyzer.detect(astronaut)
    assert len(faces) == 1
    assert faces[0].landmarks.shape == (5, 2)
    _check_landmark_geometry(faces[0])


@pytest.mark.parametrize("relative, expected", GROUP_PHOTOS.items())
def test_group_photo_face_counts(analyzer, shared, relative, expected):
    faces = analyzer.detect(shared / "data" / "faces" / relative)
    assert len(faces) == expected
    areas = [f.area for f in faces]
    assert areas == sorted(areas, reverse=True)  # documented order: largest first
    for face in faces:
        _check_landmark_geometry(face)


def test_no_face_is_an_empty_result_not_an_error(analyzer):
    assert analyzer.detect(np.full((300, 300, 3), 128, dtype=np.uint8)) == []


def test_huge_image_is_downscaled_for_detection_but_boxes_stay_in_original_pixels(analyzer, astronaut):
    import cv2

    big = cv2.resize(astronaut, (4096, 4096), interpolation=cv2.INTER_LINEAR)
    small_face = analyzer.detect(astronaut)[0]
    big_face = analyzer.detect(big)[0]
    big_box, small_box = np.array(big_face.box) / 8.0, np.array(small_face.box)
    size = small_box[2] - small_box[0]
    # Same face, same place: HOG boxes snap to pyramid levels, so allow 10% of the face size.
    assert np.all(np.abs(big_box - small_box) < 0.1 * size)


def test_adaptive_upsampling_finds_small_faces(analyzer, astronaut):
    import cv2

    # Face of ~45 px: below HOG's 80 px window, so it takes the upsampled retry.
    tiny = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    assert len(FaceAnalyzer(preset="dlib", detector_options={"upsample": 0}).detect(tiny)) == 0
    assert len(analyzer.detect(tiny)) == 1


def test_dlib_cnn_finds_the_same_faces(shared):
    cnn = FaceAnalyzer(detector="dlib-cnn")
    faces = cnn.detect(shared / "data" / "faces" / "ageitgey_face_recognition/examples/two_people.jpg")
    assert len(faces) == 2
    for face in faces:
        _check_landmark_geometry(face)
