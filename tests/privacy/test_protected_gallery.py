"""A gallery with ``protection=...``: only protected templates stored; search, erasure, export/import, keys."""
from __future__ import annotations

import numpy as np
import pytest

from facetrust.errors import ConfigError, PrivacyKeyError, ProtectedTemplateError, WrongKeyError
from facetrust.gallery import Gallery
from facetrust.privacy import KEY_ENV, ProtectionKey, protector_from_spec, save_key
from facetrust.privacy.evaluation import eval_key
from tests_privacy_helpers import enrol_first_two


@pytest.fixture
def key_file(tmp_path):  # type: ignore[no-untyped-def]
    # A fixed key: the same transform every run (biohash loses accuracy, docs/privacy.md).
    return save_key(eval_key(20), tmp_path / "gallery.key")


@pytest.mark.parametrize("scheme", ["slerp", "biohash"])
def test_protected_gallery_identifies_and_stores_only_protected_templates(scheme, lfw_faces, key_file, tmp_path):
    location = tmp_path / "staff.gallery"
    with Gallery.create(location, "dlib-resnet", protection=scheme, key=key_file) as gallery:
        enrol_first_two(gallery, lfw_faces)
        probes = lfw_faces.vectors[2::3]  # each person's third image, not enrolled
        results = gallery.search_embeddings(probes, k=3)
        found = [r.matches[0].identity_id for r in results]
        correct = sum(f == f"person{i}" for i, f in enumerate(found))
        # slerp keeps dlib-resnet's accuracy; biohash loses 2 points on LFW: one miss in six is allowed.
        assert correct >= (len(probes) if scheme == "slerp" else len(probes) - 1)
        assert gallery.model.protection["key_fingerprint"] == ProtectionKey(bytes.fromhex(
            key_file.read_text().split()[2])).fingerprint
        export = tmp_path / "staff.jsonl"
        gallery.export(export)
    # What is on disk is the protected template, never the embedding.
    raw = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".key")
    for vector in lfw_faces.vectors[0::3]:
        assert vector.astype(np.float32).tobytes() not in raw
    with Gallery.open(location, key=key_file) as gallery:
        protector = protector_from_spec(gallery.model.protection, ProtectionKey(bytes.fromhex(
            key_file.read_text().split()[2])))
        stored = {i.id: gallery.backend.templates_of([i.id]) for i in gallery.list()}
        assert len(stored) == 6
        # Erasure works on protected templates as on plain ones.
        assert gallery.remove("person0").identities == 1
        assert gallery.search_embedding(lfw_faces.vectors[2], k=1).matches[0].identity_id != "person0"
        assert protector.out_dim == gallery.model.dim


def test_wrong_missing_and_unneeded_keys_are_refused(lfw_faces, key_file, tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    location = tmp_path / "staff.gallery"
    with Gallery.create(location, "dlib-resnet", protection="slerp", key=key_file) as gallery:
        enrol_first_two(gallery, lfw_faces)
    other = save_key(ProtectionKey.generate(), tmp_path / "other.key")
    with pytest.raises(WrongKeyError, match="protected with key"):
        Gallery.open(location, key=other)
    with pytest.raises(PrivacyKeyError, match="this gallery is protected"):
        Gallery.open(location)
    with Gallery.open(location, key=key_file) as gallery:  # the refusals left it intact
        assert len(gallery) == 6
    plain = tmp_path / "plain.gallery"
    Gallery.create(plain, "dlib-resnet").close()
    with pytest.raises(ConfigError, match="not protected"):
        Gallery.open(plain, key=key_file)
    with pytest.raises(ConfigError, match="unknown protection scheme"):
        Gallery.create(tmp_path / "x.gallery", "dlib-resnet", protection="rot13", key=key_file)
    assert not (tmp_path / "x.gallery").exists()


def test_export_import_keeps_protection_and_refuses_mismatches(lfw_faces, key_file, tmp_path):
    source = tmp_path / "a.gallery"
    export = tmp_path / "a.jsonl"
    with Gallery.create(source, "dlib-resnet", protection="slerp", key=key_file) as gallery:
        enrol_first_two(gallery, lfw_faces)
        gallery.export(export)
        expected = [r.matches[0].score for r in gallery.search_embeddings(lfw_faces.vectors[2::3], k=1)]
    with Gallery.from_export(tmp_path / "b.gallery", export, key=key_file) as copy:
        got = [r.matches[0].score for r in copy.search_embeddings(lfw_faces.vectors[2::3], k=1)]
        np.testing.assert_allclose(got, expected, atol=1e-6)
    with Gallery.create(tmp_path / "c.gallery", "dlib-resnet", protection="slerp", key=key_file) as same_key:
        assert same_key.import_file(export) == 6
    with Gallery.create(tmp_path / "plain.gallery", "dlib-resnet") as plain:
        with pytest.raises(ProtectedTemplateError, match="holds protected templates"):
            plain.import_file(export)
        assert len(plain) == 0
    other = save_key(ProtectionKey.generate(), tmp_path / "other.key")
    with Gallery.create(tmp_path / "d.gallery", "dlib-resnet", protection="slerp", key=other) as other_key:
        with pytest.raises(WrongKeyError):
            other_key.import_file(export)
        assert len(other_key) == 0


def test_the_default_preset_gallery_can_be_protected(lfw_faces, key_file, tmp_path):
    """EdgeFace-XS (the default) has measured centres, parameters and thresholds: a protected gallery
    of real LFW images identifies each person's unenrolled photo and stores no embedding."""
    from types import SimpleNamespace

    from facetrust import FaceAnalyzer

    embedded = FaceAnalyzer().embed(lfw_faces.paths, select="center")  # the same images, default preset
    assert embedded.found.all() and embedded.vectors.shape[1] == 512
    faces = SimpleNamespace(vectors=embedded.vectors)
    people = len(lfw_faces.paths) // 3
    with Gallery.create(tmp_path / "g.gallery", protection="slerp", key=key_file) as gallery:
        assert gallery.model.name == "edgeface-xs"
        enrol_first_two(gallery, faces)
        found = [r.matches[0].identity_id for r in gallery.search_embeddings(faces.vectors[2::3], k=1)]
        assert found == [f"person{i}" for i in range(people)]
    raw = b"".join(p.read_bytes() for p in tmp_path.rglob("*.gallery*"))
    assert all(v.astype(np.float32).tobytes()[:64] not in raw for v in faces.vectors)


def test_a_gallery_protected_with_an_earlier_default_keeps_its_thresholds(key_file, tmp_path):
    """The calibrated defaults change when the selection rule is rerun (docs/privacy.md); a gallery made
    with the earlier ones still has calibrated thresholds, and parameters never calibrated need one given."""
    from facetrust.privacy.gallery import _calibration

    entry = _calibration()["edgeface-xs"]["slerp"]
    assert entry["earlier"], "the replaced default stays listed"
    earlier = entry["earlier"][0]
    with Gallery.create(tmp_path / "old.gallery", protection="slerp", key=key_file,
                        protection_options=earlier["params"]) as old:
        assert old.threshold() == pytest.approx(earlier["thresholds"]["0.001"])
    with Gallery.create(tmp_path / "new.gallery", protection="slerp", key=key_file) as new:
        assert new.threshold() == pytest.approx(entry["thresholds"]["0.001"])
    with Gallery.create(tmp_path / "odd.gallery", protection="slerp", key=key_file,
                        protection_options={**earlier["params"], "alpha": 0.3}) as odd:
        with pytest.raises(ConfigError, match="no calibrated threshold"):
            odd.threshold()


@pytest.mark.parametrize("recognizer", ["w600k-mbf", "fusion:edgeface-xs+reid-0095",
                                        "fusion:edgeface-xs+reid-0095+w600k-mbf"])
@pytest.mark.parametrize("scheme", ["slerp", "biohash"])
def test_the_best_zoo_recognizers_galleries_can_be_protected(recognizer, scheme, lfw_faces, key_file, tmp_path):
    """The best zoo recognizers (w600k-mbf; the `accurate` and `accurate-nc` presets' fusions, whose fused
    embedding is one vector like any other) have measured centres, parameters and thresholds (docs/privacy.md): a protected
    gallery takes them, identifies each person's unenrolled photo and stores no embedding."""
    import warnings
    from types import SimpleNamespace

    from facetrust import FaceAnalyzer
    from facetrust.privacy.gallery import _calibration
    from facetrust.zoo import store

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", store.NonCommercialLicenseWarning)  # w600k-mbf: research only
        embedded = FaceAnalyzer(detector="yunet", recognizer=recognizer).embed(lfw_faces.paths, select="center")
    assert embedded.found.all()
    faces = SimpleNamespace(vectors=embedded.vectors)
    people = len(lfw_faces.paths) // 3
    calibrated = _calibration()[recognizer][scheme]
    with Gallery.create(tmp_path / "g.gallery", recognizer, protection=scheme, key=key_file) as gallery:
        assert {k: v for k, v in gallery.model.protection["params"].items() if k != "recognizer"} == \
            calibrated["params"]
        assert gallery.threshold() == pytest.approx(calibrated["thresholds"]["0.001"])
        enrol_first_two(gallery, faces)
        found = [r.matches[0].identity_id for r in gallery.search_embeddings(faces.vectors[2::3], k=1)]
        assert found == [f"person{i}" for i in range(people)]
    raw = b"".join(p.read_bytes() for p in tmp_path.rglob("*.gallery*"))
    assert all(v.astype(np.float32).tobytes()[:64] not in raw for v in faces.vectors)
