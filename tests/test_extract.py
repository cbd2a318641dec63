"""Aligned face crops: FaceAnalyzer.extract and extract_files on real photos."""
from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from facetrust import FaceAnalyzer
from facetrust.alignment import ARCFACE_TEMPLATE_112
from facetrust.errors import ConfigError, OutputError
from facetrust.extract import extract_files

EXAMPLES = "faces/ageitgey_face_recognition/examples"
#: Inter-ocular distance of the ArcFace template at 112 px.
TEMPLATE_IOD = float(np.linalg.norm(ARCFACE_TEMPLATE_112[0] - ARCFACE_TEMPLATE_112[1]))


@pytest.fixture(scope="module")
def yunet() -> FaceAnalyzer:
    return FaceAnalyzer(detector="yunet")


@pytest.fixture(scope="module")
def two_people(shared: Path) -> Path:
    return shared / "data" / EXAMPLES / "two_people.jpg"


def eye_error(analyzer: FaceAnalyzer, crop: np.ndarray) -> float:
    """Mean distance of the eyes re-detected in ``crop`` from the template's eyes (scaled to
    the crop), as a fraction of the template's inter-ocular distance (the usual landmark NME)."""
    size = crop.shape[0]
    found = analyzer.detect_rgb(crop)
    assert found, "no face re-detected in the crop"
    template = ARCFACE_TEMPLATE_112[:2] * size / 112
    return float(np.linalg.norm(found[0].landmarks[:2] - template, axis=1).mean() / (TEMPLATE_IOD * size / 112))


@pytest.mark.parametrize("size", [112, 224])
def test_eyes_land_on_the_template(yunet: FaceAnalyzer, two_people: Path, size: int) -> None:
    faces = yunet.extract(two_people, size)
    assert len(faces) == 2
    for face in faces:
        assert face.aligned.shape == (size, size, 3) and face.aligned.dtype == np.uint8
        # 0.1 of the inter-ocular distance: the usual success criterion of landmark localisation
        # (3.5 px at 112); the 5-point fit and YuNet's own error on the crop both count in it.
        assert eye_error(yunet, face.aligned) < 0.1
        x1, y1, x2, y2 = (int(v) for v in face.box)
        box_crop = cv2.resize(yunet.load(two_people)[y1:y2, x1:x2], (size, size))
        assert eye_error(yunet, box_crop) > 0.3  # the criterion tells an aligned crop from a plain box crop


def test_any_size_scales_the_template(yunet: FaceAnalyzer, two_people: Path) -> None:
    """A 448 px crop shrunk to 112 matches the 112 px crop best with no shift: same geometry, scaled."""
    small, large = yunet.extract(two_people, 112), yunet.extract(two_people, 448)
    for face_small, face_large in zip(small, large):
        shrunk = cv2.resize(face_large.aligned, (112, 112), interpolation=cv2.INTER_AREA).astype(float)
        inner = (slice(8, -8), slice(8, -8))

        def difference(dx: int, dy: int) -> float:
            return float(np.abs(np.roll(shrunk, (dy, dx), axis=(0, 1))[inner] - face_small.aligned[inner]).mean())

        scores = {(dx, dy): difference(dx, dy) for dx in range(-2, 3) for dy in range(-2, 3)}
        assert min(scores, key=scores.get) == (0, 0)


def test_select_one_face_and_sizes_out_of_range(analyzer: FaceAnalyzer, two_people: Path) -> None:
    every = analyzer.extract(two_people)
    largest = analyzer.extract(two_people, select="largest")
    assert len(every) == 2 and len(largest) == 1 and largest[0].box == every[0].box
    assert np.array_equal(largest[0].aligned, every[0].aligned)
    assert analyzer.extract(np.full((200, 200, 3), 128, np.uint8)) == []
    for size in (0, -1, 15, 100000, 112.0, True, "112"):
        with pytest.raises(ConfigError, match="crop size must be an integer from 16 to 4096"):
            analyzer.extract(two_people, size)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="select must be"):
        analyzer.extract(two_people, select="smallest")  # type: ignore[arg-type]


def test_extract_files_keeps_folders_and_reports_bad_inputs(analyzer: FaceAnalyzer, shared: Path,
                                                           tmp_path: Path) -> None:
    examples = shared / "data" / EXAMPLES
    for folder, source in (("a", "obama.jpg"), ("b", "two_people.jpg")):
        (tmp_path / "in" / folder).mkdir(parents=True)
        shutil.copy(examples / source, tmp_path / "in" / folder / "x.jpg")
    (tmp_path / "in" / "b" / "notes.jpg").write_text("not an image")
    Image.new("RGB", (200, 200), (128, 128, 128)).save(tmp_path / "in" / "b" / "blank.png")
    inputs = sorted((tmp_path / "in").rglob("*.*"))
    out = tmp_path / "out"
    seen: list[tuple[int, int | None]] = []
    results = list(extract_files(analyzer, inputs, out, size=160, progress=lambda done, total: seen.append((done, total))))
    assert seen == [(i, 4) for i in range(1, 5)]
    by_name = {r.path.relative_to(tmp_path / "in").as_posix(): r for r in results}
    assert by_name["a/x.jpg"].crops == [out / "a" / "x_0.png"]
    assert by_name["b/x.jpg"].crops == [out / "b" / "x_0.png", out / "b" / "x_1.png"]
    assert "no face found" in by_name["b/blank.png"].error and "not an image" in by_name["b/notes.jpg"].error
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == ["a/x_0.png", "b/x_0.png", "b/x_1.png"]
    for crop in out.rglob("*.png"):
        with Image.open(crop) as image:
            assert image.size == (160, 160) and image.format == "PNG"
    record = by_name["b/x.jpg"].to_dict()
    assert [face["crop"] for face in record["faces"]] == [str(out / "b" / "x_0.png"), str(out / "b" / "x_1.png")]
    assert by_name["b/notes.jpg"].to_dict() == {"path": str(tmp_path / "in" / "b" / "notes.jpg"),
                                                 "error": by_name["b/notes.jpg"].error}


def test_extract_files_never_replaces_an_input(analyzer: FaceAnalyzer, shared: Path, tmp_path: Path) -> None:
    photo = tmp_path / "x.jpg"
    shutil.copy(shared / "data" / EXAMPLES / "obama.jpg", photo)
    decoy = tmp_path / "x_0.jpg"  # named like x.jpg's first crop in the input's format
    shutil.copy(shared / "data" / EXAMPLES / "biden.jpg", decoy)
    before = decoy.read_bytes()
    results = list(extract_files(analyzer, [photo, decoy], tmp_path, image_format="input"))
    assert "would replace an input" in results[0].error
    assert decoy.read_bytes() == before and results[1].crops == [tmp_path / "x_0_0.jpg"]
    with pytest.raises(OutputError, match="is a file, not a folder"):
        list(extract_files(analyzer, [photo], decoy))
    with pytest.raises(ConfigError, match="faces must be one of"):
        list(extract_files(analyzer, [photo], tmp_path, faces="biggest"))  # type: ignore[arg-type]
