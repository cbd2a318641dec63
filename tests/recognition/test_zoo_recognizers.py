"""The zoo recognizers EdgeFace-XS/XXS, reid-0095 and w600k-mbf on real photos."""
from __future__ import annotations

import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from facetrust import FaceAnalyzer
from facetrust.errors import ChecksumMismatchError, ModelNotAvailableError
from facetrust.recognition import RECOGNIZERS, load_calibration
from facetrust.zoo import get_model, store

pytestmark = pytest.mark.usefixtures("shared")

EXAMPLES = "ageitgey_face_recognition/examples"
TRAIN = f"{EXAMPLES}/knn_examples/train"
SAME = [
    (f"{EXAMPLES}/obama.jpg", f"{EXAMPLES}/obama2.jpg"),
    (f"{TRAIN}/biden/biden.jpg", f"{TRAIN}/biden/biden2.jpg"),
    (f"{TRAIN}/rose_leslie/img1.jpg", f"{TRAIN}/rose_leslie/img2.jpg"),
    ("davidsandberg_facenet/Anthony_Hopkins_0001.jpg", "davidsandberg_facenet/Anthony_Hopkins_0002.jpg"),
]
DIFFERENT = [
    (f"{EXAMPLES}/obama.jpg", f"{EXAMPLES}/biden.jpg"),
    (f"{TRAIN}/kit_harington/john1.jpeg", f"{TRAIN}/rose_leslie/img1.jpg"),
    (f"{EXAMPLES}/lin-manuel-miranda.png", f"{EXAMPLES}/alex-lacamoire.png"),
    ("timesler_facenet-pytorch/data/test_images/paul_rudd/1.jpg", "timesler_facenet-pytorch/data/test_images/shea_whigham/1.jpg"),
]
RECOGNIZERS_UNDER_TEST = ["edgeface-xs", "edgeface-xxs", "reid-0095", "w600k-mbf"]
#: Those with shipped thresholds: all of them.
CALIBRATED = RECOGNIZERS_UNDER_TEST


def _analyzer(recognizer: str) -> FaceAnalyzer:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", store.NonCommercialLicenseWarning)
        analyzer = FaceAnalyzer(detector="yunet", recognizer=recognizer)
        analyzer.load_models()
    return analyzer


@pytest.fixture(scope="module", params=CALIBRATED)
def analyzer(request) -> FaceAnalyzer:
    return _analyzer(request.param)


@pytest.mark.parametrize("recognizer", RECOGNIZERS_UNDER_TEST)
def test_embeddings_are_unit_length_and_batch_independent(recognizer: str, shared: Path) -> None:
    analyzer = _analyzer(recognizer)
    root = shared / "data" / "faces"
    paths = [root / SAME[0][0], root / SAME[0][1], root / DIFFERENT[0][1]]
    batch = analyzer.embed(paths)
    assert batch.vectors.shape == (3, analyzer.recognizer.dim) and batch.found.all()
    assert np.allclose(np.linalg.norm(batch.vectors, axis=1), 1.0, atol=1e-5)
    single = analyzer.embed(paths[:1]).vectors[0]
    assert float(single @ batch.vectors[0]) > 0.9999
    # Obama vs Obama scores well above Obama vs Biden.
    same, different = float(batch.vectors[0] @ batch.vectors[1]), float(batch.vectors[0] @ batch.vectors[2])
    assert same > different + 0.3


@pytest.mark.parametrize("pair", SAME, ids=lambda p: p[0].split("/")[-1])
def test_same_person_pairs_match(analyzer: FaceAnalyzer, shared: Path, pair: tuple[str, str]) -> None:
    root = shared / "data" / "faces"
    result = analyzer.verify(root / pair[0], root / pair[1])
    assert result.same, f"{pair}: similarity {result.similarity:.3f} < threshold {result.threshold:.3f}"


@pytest.mark.parametrize("pair", DIFFERENT, ids=lambda p: p[0].split("/")[-1])
def test_different_people_do_not_match(analyzer: FaceAnalyzer, shared: Path, pair: tuple[str, str]) -> None:
    root = shared / "data" / "faces"
    result = analyzer.verify(root / pair[0], root / pair[1])
    assert not result.same, f"{pair}: similarity {result.similarity:.3f} >= threshold {result.threshold:.3f}"


@pytest.mark.parametrize("name", CALIBRATED)
def test_calibrated_with_impostor_statistics(name: str) -> None:
    calibration = load_calibration(name)
    assert calibration.detector == "yunet" and calibration.impostor_pairs > 80_000_000
    assert calibration.impostor_std is not None and calibration.impostor_std > 0
    # Thresholds fall as the allowed FMR rises.
    assert calibration.threshold_at(1e-5) > calibration.threshold_at(1e-3) > calibration.threshold_at(1e-1)


def test_non_commercial_recognizer_warns_and_is_flagged() -> None:
    assert get_model("w600k-mbf").commercial_use is False
    assert all(get_model(n).commercial_use for n in ("edgeface-xs", "edgeface-xxs", "reid-0095"))
    store._warned.discard("w600k-mbf")
    with pytest.warns(store.NonCommercialLicenseWarning, match="non-commercial"):
        RECOGNIZERS.create("w600k-mbf")


def _copy_model(name: str, shared: Path, target: Path) -> Path:
    path = get_model(name).files[0].path
    (target / path).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(shared / "models" / path, target / path)
    return target / path


def test_missing_model_file_is_a_typed_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACETRUST_MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("FACETRUST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("FACETRUST_OFFLINE", "1")
    with pytest.raises(ModelNotAvailableError, match="edgeface-xxs"):
        RECOGNIZERS.create("edgeface-xxs")


def test_corrupted_model_file_is_a_typed_error_and_one_cli_line(
    tmp_path: Path, shared: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _copy_model("yunet", shared, tmp_path)  # an intact detector: the recognizer is what fails
    copy = _copy_model("edgeface-xxs", shared, tmp_path)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    monkeypatch.setenv("FACETRUST_MODEL_DIR", str(tmp_path))
    monkeypatch.setenv("FACETRUST_OFFLINE", "1")
    with pytest.raises(ChecksumMismatchError, match="sha256"):
        RECOGNIZERS.create("edgeface-xxs")
    photo = shared / "data" / "faces" / SAME[0][0]
    run = subprocess.run([sys.executable, "-m", "facetrust.cli.main", "verify", str(photo), str(photo),
                          "-d", "yunet", "-r", "edgeface-xxs"], capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "sha256" in lines[0], run.stderr
