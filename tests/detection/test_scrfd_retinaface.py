"""SCRFD-0.5GF and RetinaFace-MobileNet0.25 on real photos, cross-checked against YuNet."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from detection_photos import COUNTS, iou
from facetrust.detection import DETECTORS
from facetrust.io import load_image
from facetrust.types import Detection
from facetrust.zoo import get_model, model_file, store, verify_model

pytestmark = pytest.mark.usefixtures("shared")
NAMES = ["scrfd", "retinaface"]


@pytest.fixture(scope="module", params=NAMES)
def detector(request):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", store.NonCommercialLicenseWarning)
        return DETECTORS.create(request.param)


@pytest.fixture(scope="module")
def yunet():
    return DETECTORS.create("yunet")


def assert_upright_order(face: Detection) -> None:
    assert face.landmarks is not None and face.landmarks.shape == (5, 2)
    (lex, ley), (rex, rey), (_, ny), (mlx, mly), (mrx, mry) = face.landmarks
    assert lex < rex and mlx < mrx
    assert max(ley, rey) < ny < min(mly, mry)


@pytest.mark.parametrize(("path", "count"), COUNTS, ids=lambda v: v.stem if isinstance(v, Path) else str(v))
def test_face_counts_boxes_and_landmarks_agree_with_yunet(detector, yunet, photos: Path, path: Path, count: int) -> None:
    image = load_image(photos / path)
    faces = detector.detect(image)
    assert len(faces) == count
    assert [f.area for f in faces] == sorted((f.area for f in faces), reverse=True)
    for face in faces:
        assert_upright_order(face)
        reference = max(yunet.detect(image), key=lambda d: iou(d.box, face.box))
        assert iou(face.box, reference.box) > 0.7
        # Same points within 10% of the face width (different annotation conventions).
        assert np.abs(face.landmarks - reference.landmarks).max() < 0.1 * reference.width


def test_astronaut(detector, astronaut: np.ndarray) -> None:
    faces = detector.detect(astronaut)
    assert len(faces) == 1 and faces[0].score >= detector.score_threshold
    x1, y1, x2, y2 = faces[0].box
    assert 150 < x1 < x2 < 300 and 40 < y1 < y2 < 200
    assert_upright_order(faces[0])


def test_blank_image_has_no_face(detector) -> None:
    assert detector.detect(np.full((300, 300, 3), 128, np.uint8)) == []


def test_licences_are_flagged() -> None:
    assert get_model("scrfd-500m").commercial_use is False
    assert get_model("retinaface-mnet025-onnx").commercial_use is True
    store._warned.discard("scrfd-500m")
    with pytest.warns(store.NonCommercialLicenseWarning):
        DETECTORS.create("scrfd")


def test_shipped_retinaface_onnx_is_verified() -> None:
    assert get_model("retinaface-mnet025-onnx").embedded
    assert [status for _, status in verify_model("retinaface-mnet025-onnx")] == ["ok"]


def test_retinaface_export_reproduces_the_shipped_file(tmp_path: Path, photos: Path) -> None:
    pytest.importorskip("torch")
    import onnxruntime as ort

    from facetrust.detection.export.retinaface_onnx import check, export

    weights = model_file("retinaface-mnet025")
    shipped = model_file("retinaface-mnet025-onnx")
    out = export(weights, tmp_path / "retinaface.onnx")
    photo = photos / "davidsandberg_facenet/Anthony_Hopkins_0001.jpg"  # 250x250: torch is slow on big photos
    # The shipped graph computes what the torch model computes ...
    assert check(weights, shipped, photo) < 1e-4
    # ... and a fresh export computes the same as the shipped one (byte-identical with
    # the torch version named in the manifest; other versions may serialise differently).
    blob = np.random.default_rng(0).normal(0, 50, (1, 3, 160, 224)).astype(np.float32)
    fresh, ours = (ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, {"input": blob})
                   for p in (out, shipped))
    assert max(float(np.abs(a - b).max()) for a, b in zip(fresh, ours)) < 1e-5
