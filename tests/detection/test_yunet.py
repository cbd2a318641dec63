"""YuNetDetector on real images, cross-checked against cv2.FaceDetectorYN."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from detection_photos import COUNTS, MULTIFACE, TWO_PEOPLE, iou
from facetrust.detection import DETECTORS
from facetrust.detection.yunet import YuNetDetector
from facetrust.io import load_image
from facetrust.types import Detection
from facetrust.zoo import model_file

# Every test needs ../shared (models and photos); conftest's `shared` fixture
# skips without it (fails in CI) and points FACETRUST_MODEL_DIR at it.
pytestmark = pytest.mark.usefixtures("shared")


@pytest.fixture(scope="module")
def detector() -> YuNetDetector:
    return YuNetDetector()


def assert_upright_order(face: Detection) -> None:
    """LANDMARK_ORDER on an upright frontal face: image-left before image-right,
    eyes above the nose above the mouth corners."""
    assert face.landmarks is not None and face.landmarks.shape == (5, 2)
    (lex, ley), (rex, rey), (_, ny), (mlx, mly), (mrx, mry) = face.landmarks
    assert lex < rex and mlx < mrx
    assert max(ley, rey) < ny < min(mly, mry)


def test_astronaut_one_face_with_ordered_landmarks(detector: YuNetDetector, astronaut: np.ndarray) -> None:
    faces = detector.detect(astronaut)
    assert len(faces) == 1
    face = faces[0]
    assert face.score > 0.8
    x1, y1, x2, y2 = face.box
    assert 150 < x1 < x2 < 300 and 40 < y1 < y2 < 200  # her face, not the suit or flag
    assert_upright_order(face)
    assert face.landmarks.dtype == np.float32
    assert np.all((face.landmarks >= [x1, y1]) & (face.landmarks <= [x2, y2]))


@pytest.mark.parametrize(("path", "count"), COUNTS, ids=lambda v: v.stem if isinstance(v, Path) else str(v))
def test_face_counts(detector: YuNetDetector, photos: Path, path: Path, count: int) -> None:
    image = load_image(photos / path)
    faces = detector.detect(image)
    assert len(faces) == count
    height, width = image.shape[:2]
    for face in faces:
        assert 0 <= face.box[0] < face.box[2] <= width and 0 <= face.box[1] < face.box[3] <= height
        assert_upright_order(face)
    assert [f.area for f in faces] == sorted((f.area for f in faces), reverse=True)


def test_blank_image_has_no_face(detector: YuNetDetector) -> None:
    assert detector.detect(np.full((300, 300, 3), 128, np.uint8)) == []


def test_huge_image_is_downscaled_and_mapped_back(detector: YuNetDetector, astronaut: np.ndarray) -> None:
    factor = 4000 / astronaut.shape[0]
    huge = cv2.resize(astronaut, (4000, 4000), interpolation=cv2.INTER_LINEAR)
    faces = detector.detect(huge)
    assert len(faces) == 1
    reference = detector.detect(astronaut)[0]
    # Same face in the 4000 px frame. The box's top edge moves ~4% of the face
    # height between input scales (1280 px vs 512 px here), so compare by IoU;
    # landmarks are steadier: within 5% of the face width.
    assert iou(faces[0].box, tuple(v * factor for v in reference.box)) > 0.85
    assert np.allclose(faces[0].landmarks, reference.landmarks * factor, atol=0.05 * reference.width * factor)


@pytest.mark.parametrize("model", ["yunet", "yunet-s"])
@pytest.mark.parametrize("name", ["astronaut", "multiface", "two_people"])
def test_matches_opencv_facedetectoryn(model: str, name: str, astronaut: np.ndarray, photos: Path) -> None:
    if not hasattr(cv2, "FaceDetectorYN"):
        pytest.skip("this OpenCV build has no FaceDetectorYN")
    image = astronaut if name == "astronaut" else load_image(photos / (MULTIFACE if name == "multiface" else TWO_PEOPLE))
    height, width = image.shape[:2]
    ours = YuNetDetector(model=model, max_side=None).detect(image)  # no resize: same pixels as OpenCV
    reference = cv2.FaceDetectorYN.create(str(model_file(model)), "", (width, height), 0.6, 0.3, 750)
    _, found = reference.detect(np.ascontiguousarray(image[:, :, ::-1]))
    assert found is not None and len(found) == len(ours) > 0
    for row in found:
        x, y, w, h = row[:4]
        box = np.array([max(0, x), max(0, y), min(width, x + w), min(height, y + h)])  # we clip, OpenCV does not
        match = min(ours, key=lambda d: float(np.abs(np.array(d.box) - box).max()))
        assert np.abs(np.array(match.box) - box).max() < 1.0
        assert np.abs(match.landmarks - row[4:14].reshape(5, 2)).max() < 1.0
        assert match.score == pytest.approx(float(row[14]), abs=1e-3)


def test_fixed_size_export_fits_image(photos: Path) -> None:
    image = load_image(photos / MULTIFACE)  # 1200x630: must be shrunk into the 640x640 input
    faces = YuNetDetector(model="yunet-640").detect(image)
    assert len(faces) == 6
    assert max(f.box[2] for f in faces) > 640  # mapped back to the original frame


def test_registry_creates_it() -> None:
    detector = DETECTORS.create("yunet", score_threshold=0.7)
    assert isinstance(detector, YuNetDetector) and detector.provides_landmarks
    assert detector.provider == "CPUExecutionProvider"
