"""UltraFaceDetector (box-only) on real images."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from detection_photos import COUNTS, iou
from facetrust.detection import DETECTORS
from facetrust.detection.ultraface import UltraFaceDetector
from facetrust.io import load_image

# Every test needs ../shared (models and photos); conftest's `shared` fixture
# skips without it (fails in CI) and points FACETRUST_MODEL_DIR at it.
pytestmark = pytest.mark.usefixtures("shared")


@pytest.fixture(scope="module")
def detector() -> UltraFaceDetector:
    return UltraFaceDetector()


def test_astronaut_box_in_pixels(detector: UltraFaceDetector, astronaut: np.ndarray) -> None:
    faces = detector.detect(astronaut)
    assert len(faces) == 1
    face = faces[0]
    assert face.landmarks is None and not detector.provides_landmarks
    assert face.score > 0.9
    # Normalised corners scaled to pixels land on her face (YuNet finds ~(178, 65, 269, 176)).
    assert iou(face.box, (178.0, 65.0, 269.0, 176.0)) > 0.8


@pytest.mark.parametrize(("path", "count"), COUNTS, ids=lambda v: v.stem if isinstance(v, Path) else str(v))
@pytest.mark.parametrize("model", ["ultraface", "ultraface-640"])
def test_face_counts(model: str, photos: Path, path: Path, count: int) -> None:
    image = load_image(photos / path)
    faces = UltraFaceDetector(model=model).detect(image)
    assert len(faces) == count
    height, width = image.shape[:2]
    for face in faces:
        assert 0 <= face.box[0] < face.box[2] <= width and 0 <= face.box[1] < face.box[3] <= height
        assert face.landmarks is None
    assert [f.area for f in faces] == sorted((f.area for f in faces), reverse=True)


def test_input_size_read_from_model() -> None:
    assert UltraFaceDetector()._size == (320, 240)
    assert UltraFaceDetector(model="ultraface-640")._size == (640, 480)


def test_blank_image_has_no_face(detector: UltraFaceDetector) -> None:
    assert detector.detect(np.full((300, 300, 3), 128, np.uint8)) == []


@pytest.mark.parametrize("max_side", [None, 1000])
def test_huge_image_in_original_frame(astronaut: np.ndarray, max_side: int | None) -> None:
    factor = 4000 / astronaut.shape[0]
    huge = cv2.resize(astronaut, (4000, 4000), interpolation=cv2.INTER_LINEAR)
    detector = UltraFaceDetector(max_side=max_side)
    faces = detector.detect(huge)
    assert len(faces) == 1
    reference = detector.detect(astronaut)[0]
    assert iou(faces[0].box, tuple(v * factor for v in reference.box)) > 0.85


def test_registry_creates_it() -> None:
    detector = DETECTORS.create("ultraface")
    assert isinstance(detector, UltraFaceDetector) and detector.provider == "CPUExecutionProvider"
