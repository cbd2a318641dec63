"""Model zoo: manifest, offline directory, cache download, checksum errors, licences."""
from __future__ import annotations

import shutil
import warnings

import pytest

from facetrust.errors import ChecksumMismatchError, ConfigError, ModelNotAvailableError
from facetrust.zoo import get_model, list_models, model_file, verify_model
from facetrust.zoo import store
from facetrust.zoo.manifest import ModelFile


def test_manifest_describes_every_model():
    models = list_models()
    assert {"dlib-hog", "dlib-cnn", "dlib-resnet", "yunet", "ultraface", "mobilefacenet"} <= {m.name for m in models}
    for model in models:
        assert model.license and model.input and model.task
        for file in model.files:
            assert len(file.sha256) == 64 and file.url.startswith("https://")


def test_every_zoo_file_in_shared_matches_its_checksum(shared):
    for model in list_models():
        for path, status in verify_model(model.name):
            assert status == "ok", f"{model.name}: {path} is {status}"


def test_embedded_models_are_found_in_their_package():
    path = model_file("dlib-resnet")
    assert path.name == "dlib_face_recognition_resnet_model_v1.dat"
    assert get_model("dlib-resnet").embedded and not get_model("ultraface").embedded
    # The default preset's models ship in facetrust itself (tests/test_presets.py damages a copy).
    assert get_model("yunet").embedded and get_model("edgeface-xs").embedded
    assert model_file("edgeface-xs").parent.parent.parent.name == "facetrust"


def test_unknown_model():
    with pytest.raises(ConfigError, match="unknown model"):
        get_model("no-such-model")


def test_corrupted_file_is_an_error(tmp_path, monkeypatch, shared):
    source = shared / "models" / "detection" / "version-RFB-320.onnx"
    corrupted = tmp_path / "detection" / "version-RFB-320.onnx"
    corrupted.parent.mkdir()
    data = bytearray(source.read_bytes())
    data[1000] ^= 0xFF
    corrupted.write_bytes(bytes(data))
    monkeypatch.setenv("FACETRUST_MODEL_DIR", str(tmp_path))
    with pytest.raises(ChecksumMismatchError, match="does not match"):
        model_file("ultraface")
    assert verify_model("ultraface") == [(str(corrupted), "MISMATCH")]


def test_missing_file_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("FACETRUST_MODEL_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("FACETRUST_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(ModelNotAvailableError, match="FACETRUST_MODEL_DIR"):
        model_file("ultraface")
    assert verify_model("ultraface") == [("detection/version-RFB-320.onnx", "missing")]


def test_download_verifies_and_lands_atomically(tmp_path, shared):
    """The real download path, fed from a file:// URL (no network here)."""
    source = shared / "models" / "detection" / "version-RFB-320.onnx"
    spec = get_model("ultraface").files[0]
    good = ModelFile(spec.path, source.as_uri(), spec.sha256, spec.bytes)
    target = tmp_path / "cache" / spec.path
    assert store._download(good, target) == target and store.sha256_of(target) == spec.sha256

    bad = ModelFile(spec.path, source.as_uri(), "0" * 64, spec.bytes)
    other = tmp_path / "cache2" / spec.path
    with pytest.raises(ChecksumMismatchError):
        store._download(bad, other)
    assert list(other.parent.iterdir()) == []  # no partial or wrong file left behind


def test_cache_is_used_after_download(tmp_path, monkeypatch, shared):
    monkeypatch.delenv("FACETRUST_MODEL_DIR")
    monkeypatch.setenv("FACETRUST_CACHE_DIR", str(tmp_path))
    spec = get_model("ultraface").files[0]
    (tmp_path / spec.path).parent.mkdir(parents=True)
    shutil.copy(shared / "models" / spec.path, tmp_path / spec.path)
    assert model_file("ultraface") == tmp_path / spec.path


def test_non_commercial_licence_is_shown(shared):
    store._warned.discard("scrfd-500m")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model_file("scrfd-500m")
    assert any(issubclass(w.category, store.NonCommercialLicenseWarning) for w in caught)
    assert "non-commercial" in get_model("scrfd-500m").license


def test_a_file_inside_a_zip_release_is_extracted_and_checked(tmp_path, shared):
    """InsightFace ships its models as zip releases (buffalo_s.zip): the store downloads the
    archive (here from a file:// URL), extracts the member, checks its sha256 and keeps only it."""
    import zipfile

    spec = get_model("w600k-mbf").files[0]
    assert spec.member == "w600k_mbf.onnx"
    archive = tmp_path / "buffalo_s.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("det_500m.onnx", b"another model")
        bundle.write(shared / "models" / spec.path, f"buffalo_s/{spec.member}")
    good = ModelFile(spec.path, archive.as_uri(), spec.sha256, spec.bytes, member=spec.member)
    target = tmp_path / "cache" / spec.path
    assert store._download(good, target) == target and store.sha256_of(target) == spec.sha256
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]

    missing = ModelFile(spec.path, archive.as_uri(), spec.sha256, spec.bytes, member="2d106det.onnx")
    with pytest.raises(ModelNotAvailableError, match="holds no 2d106det.onnx"):
        store._download(missing, tmp_path / "cache3" / spec.path)
    not_zip = ModelFile(spec.path, (shared / "models" / spec.path).as_uri(), spec.sha256, spec.bytes, member=spec.member)
    with pytest.raises(ModelNotAvailableError, match="not a zip archive"):
        store._download(not_zip, tmp_path / "cache4" / spec.path)
    assert list((tmp_path / "cache3" / spec.path).parent.iterdir()) == []


def test_a_derived_file_is_never_downloaded_and_says_how_it_is_made(tmp_path, monkeypatch):
    monkeypatch.setenv("FACETRUST_MODEL_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("FACETRUST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("FACETRUST_OFFLINE", raising=False)
    with pytest.raises(ModelNotAvailableError, match="edgeface_onnx xxs --out"):
        model_file("edgeface-xxs")
    assert not (tmp_path / "cache").exists()
