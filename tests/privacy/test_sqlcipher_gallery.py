"""SQLCipher galleries (``encryption="sqlcipher"``): the whole database file encrypted, on real LFW embeddings."""
from __future__ import annotations

from pathlib import Path

import pytest

from facetrust.errors import ConfigError, GalleryError, WrongKeyError
from facetrust.gallery import Gallery
from facetrust.gallery.sqlcipher import SQLITE_HEADER
from facetrust.privacy import ProtectionKey, save_key
from facetrust.privacy.encryption import ENCRYPTION_KEY_ENV, ENCRYPTION_KEY_FILE_ENV
from tests_privacy_helpers import enrol_first_two

pytest.importorskip("sqlcipher3", reason="the privacy extra (sqlcipher3) is not installed")


@pytest.fixture(autouse=True)
def no_key_in_environment(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv(ENCRYPTION_KEY_ENV, raising=False)
    monkeypatch.delenv(ENCRYPTION_KEY_FILE_ENV, raising=False)


def _raw(gallery: Path) -> bytes:
    """Every file of the gallery: database, -wal, -shm, index."""
    return b"".join(p.read_bytes() for p in sorted(gallery.parent.glob(gallery.name + "*")) if p.is_file())


def test_whole_database_encrypted_no_template_bytes_no_names_no_header(lfw_faces, tmp_path):
    key = save_key(ProtectionKey.generate(), tmp_path / "keys" / "db.key")
    location = tmp_path / "vault.gallery"
    with Gallery.create(location, "dlib-resnet", encryption_key=key, encryption="sqlcipher") as gallery:
        enrol_first_two(gallery, lfw_faces)
        gallery.update("person1", name="Ada Lovelace-Byron", metadata={"badge": "secret-badge-4711"})
        probes = lfw_faces.vectors[2::3]
        assert [r.matches[0].identity_id for r in gallery.search_embeddings(probes)] == \
            [f"person{i}" for i in range(len(probes))]
        assert gallery.stats()["encryption"]["database"] == "sqlcipher"
        gallery.flush()
        raw = _raw(location)
        assert {p.name for p in tmp_path.glob("vault.gallery*")} >= {"vault.gallery", "vault.gallery-wal",
                                                                   "vault.gallery.index"}
        gallery.export(tmp_path / "vault.jsonl")
    for data in (raw, _raw(location)):  # open (with the write-ahead log) and closed
        assert SQLITE_HEADER not in data
        assert b"Ada Lovelace" not in data and b"secret-badge" not in data and b"person1" not in data
        assert not [i for i, v in enumerate(lfw_faces.vectors) for start in (0, 64, 240)
                    if v.astype("<f4").tobytes()[start:start + 16] in data]
    export = (tmp_path / "vault.jsonl").read_bytes()
    assert not [v for v in lfw_faces.vectors if v.astype("<f4").tobytes()[:16] in export]
    # Without encryption the same names are in the file in clear (what the grep above would find).
    with Gallery.create(tmp_path / "plain.gallery", "dlib-resnet") as plain:
        enrol_first_two(plain, lfw_faces)
        plain.update("person1", name="Ada Lovelace-Byron")
    assert b"Ada Lovelace" in _raw(tmp_path / "plain.gallery") and SQLITE_HEADER in _raw(tmp_path / "plain.gallery")

    with Gallery.open(location, encryption_key=key) as again:
        assert again.get("person1").name == "Ada Lovelace-Byron"
        assert again.search_embedding(probes[0]).matches[0].identity_id == "person0"
        with pytest.raises(ConfigError, match="SQLCipher gallery: rotate its key by exporting"):
            again.rotate_key(save_key(ProtectionKey.generate(), tmp_path / "keys" / "new.key"))
    with pytest.raises(WrongKeyError, match="cannot be decrypted with key"):
        Gallery.open(location, encryption_key=save_key(ProtectionKey.generate(), tmp_path / "keys" / "other.key"))
    with pytest.raises(GalleryError, match="SQLCipher gallery opened without its key"):
        Gallery.open(location)
    with pytest.raises(ConfigError, match="needs an encryption key"):
        Gallery.create(tmp_path / "nokey.gallery", "dlib-resnet", encryption="sqlcipher")
    assert not (tmp_path / "nokey.gallery").exists()
