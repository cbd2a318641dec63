"""yunet-retinaface on real photos: YuNet's faces, RetinaFace's landmarks."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detection_photos import iou
from facetrust.detection import DETECTORS
from facetrust.detection.yunet_retinaface import YuNetRetinaFaceDetector
from facetrust.io import load_image
from facetrust.types import Detection

pytestmark = pytest.mark.usefixtures("shared")
SUFFIXES = {".jpg", ".jpeg", ".png"}
PAUL_RUDD = Path("timesler_facenet-pytorch/data/test_images/paul_rudd/1.jpg")


@pytest.fixture(scope="module")
def detector() -> YuNetRetinaFaceDetector:
    return DETECTORS.create("yunet-retinaface")


@pytest.fixture(scope="module")
def colour_photos(photos: Path) -> list[tuple[Path, np.ndarray]]:
    """Every colour photo under shared/data/faces (the 44 the detector docs count faces on)."""
    loaded = [(p, load_image(p)) for p in sorted(photos.rglob("*")) if p.suffix.lower() in SUFFIXES]
    return [(p, image) for p, image in loaded if image.ndim == 3]


@pytest.fixture(scope="module")
def reference(colour_photos):
    """(YuNet's faces, full-image RetinaFace's faces) of each photo."""
    yunet, retinaface = DETECTORS.create("yunet"), DETECTORS.create("retinaface")
    return [(yunet.detect(image), retinaface.detect(image)) for _, image in colour_photos]


def eye_distance(face: Detection) -> float:
    return float(np.linalg.norm(face.landmarks[1] - face.landmarks[0]))


def test_faces_are_yunets_exactly(detector, colour_photos, reference) -> None:
    """Count, order, boxes and scores are YuNet's on every photo: RetinaFace's false faces
    on three of them (docs/detection.md) cannot appear."""
    assert len(colour_photos) >= 40
    for (path, image), (yunet_faces, _) in zip(colour_photos, reference):
        faces = detector.detect(image)
        assert [(f.box, f.score) for f in faces] == [(f.box, f.score) for f in yunet_faces], path.name


def test_landmarks_are_retinafaces(detector, colour_photos, reference) -> None:
    """Where full-image RetinaFace finds the same face, the points placed in the window lie near
    its points (each within a fifth of the inter-eye distance on average), and nearer to them
    than YuNet's points on most faces."""
    nearer, compared, kept = 0, 0, 0
    for (path, image), (yunet_faces, retina_faces) in zip(colour_photos, reference):
        for face, yunet_face in zip(detector.detect(image), yunet_faces):
            if np.array_equal(face.landmarks, yunet_face.landmarks):
                kept += 1  # RetinaFace found nothing matching in the window (see the next test)
                continue
            full = max(retina_faces, key=lambda r: iou(r.box, face.box), default=None)
            if full is None or iou(full.box, face.box) < 0.5:
                continue
            scale = eye_distance(full)
            ours = np.linalg.norm(face.landmarks - full.landmarks, axis=1).mean() / scale
            yunets = np.linalg.norm(yunet_face.landmarks - full.landmarks, axis=1).mean() / scale
            assert ours < 0.2, path.name
            nearer += int(ours < yunets)
            compared += 1
    assert compared >= 40 and nearer > compared / 2 and kept <= 2


def test_a_face_retinaface_does_not_find_keeps_yunets_landmarks(detector, photos: Path) -> None:
    """YuNet's second, low-scoring face on this photo (0.66, below the face, overlapping the chin) has
    no RetinaFace detection in its window overlapping it enough: it keeps YuNet's points; the real
    face gets RetinaFace's."""
    image = load_image(photos / PAUL_RUDD)
    yunet_faces = DETECTORS.create("yunet").detect(image)
    faces = detector.detect(image)
    assert len(faces) == len(yunet_faces) == 2
    assert not np.array_equal(faces[0].landmarks, yunet_faces[0].landmarks)
    assert np.array_equal(faces[1].landmarks, yunet_faces[1].landmarks)


def test_a_window_without_a_face_leaves_the_face_as_it_was(detector, astronaut: np.ndarray) -> None:
    """RetinaFace finds nothing in a window of flat grey around a box: the face is returned as
    it came (its own landmarks), never dropped."""
    face = DETECTORS.create("yunet").detect(astronaut)[0]
    blank = np.full_like(astronaut, 128)
    assert detector.placer.detect(blank) == []
    assert detector.place_landmarks(blank, face) is face
    # The same box on the photo does get RetinaFace's points.
    placed = detector.place_landmarks(astronaut, face)
    assert placed.box == face.box and placed.score == face.score
    assert not np.array_equal(placed.landmarks, face.landmarks)


def test_declares_yunets_boxes_and_both_models() -> None:
    from facetrust.presets import detector_models

    cls = DETECTORS.get_class("yunet-retinaface")
    assert cls.boxes_and_scores_of == "yunet" and cls.nose_point == "tip"
    assert detector_models("yunet-retinaface") == ("yunet", "retinaface-mnet025-onnx")
