"""SQLCipher galleries (``encryption="sqlcipher"``): the whole database file encrypted, on real LFW embeddings."""
from __future__ import annotations

from pathlib import Path

import pytest

from facetrust.errors import ConfigError, GalleryError, ModelMismatchError, PrivacyKeyError, WrongKeyError
from facetrust.gallery import Gallery
from facetrust.gallery.sqlcipher import SQLITE_HEADER
from facetrust.privacy import ProtectionKey, load_key, save_key
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
    with pytest.raises(PrivacyKeyError, match="no encryption key given"):
        Gallery.create(tmp_path / "nokey.gallery", "dlib-resnet", encryption="sqlcipher")
    assert not (tmp_path / "nokey.gallery").exists()


def test_exist_ok_reopens_an_sqlcipher_gallery_and_refuses_other_encryption(lfw_faces, tmp_path):
    # Regression: exist_ok=True passed encryption= on to SQLiteGallery.open, a TypeError.
    key = save_key(ProtectionKey.generate(), tmp_path / "db.key")
    location = tmp_path / "vault.gallery"
    options = {"encryption_key": key, "encryption": "sqlcipher", "exist_ok": True}
    with Gallery.create(location, "dlib-resnet", **options) as gallery:
        enrol_first_two(gallery, lfw_faces)
    with Gallery.create(location, "dlib-resnet", **options) as again:  # the script runs a second time
        assert again.stats()["encryption"]["database"] == "sqlcipher"
        assert again.search_embedding(lfw_faces.vectors[2]).matches[0].identity_id == "person0"
    with Gallery.open(location, encryption_key=key, encryption="sqlcipher") as checked:
        assert len(checked) == len(lfw_faces.vectors) // 3
    # What exists must be what was asked for, not silently weaker (or stronger).
    with pytest.raises(ConfigError, match="encrypted with sqlcipher, not encryption='aes-gcm'"):
        Gallery.create(location, "dlib-resnet", encryption_key=key, encryption="aes-gcm", exist_ok=True)
    with Gallery.create(tmp_path / "rows.gallery", "dlib-resnet", encryption_key=key):
        pass
    with pytest.raises(ConfigError, match="encrypted with aes-gcm, not encryption='sqlcipher'"):
        Gallery.create(tmp_path / "rows.gallery", "dlib-resnet", **options)
    with pytest.raises(ConfigError, match="encrypted with aes-gcm, not encryption='sqlcipher'"):
        Gallery.open(tmp_path / "rows.gallery", encryption_key=key, encryption="sqlcipher")
    with pytest.raises(WrongKeyError, match="cannot be decrypted with key"):
        Gallery.create(location, "dlib-resnet", **{**options, "encryption_key": save_key(
            ProtectionKey.generate(), tmp_path / "other.key")})
    with pytest.raises(ConfigError, match="encryption must be one of"):
        Gallery.open(location, encryption_key=key, encryption="rot13")


def test_encryption_option_alone_encrypts_with_the_environment_key(lfw_faces, tmp_path, monkeypatch):
    # encryption= without encrypt=True used to make a plain gallery ("aes-gcm") or ask for a key
    # that was in the environment all along ("sqlcipher").
    key = save_key(ProtectionKey.generate(), tmp_path / "db.key")
    monkeypatch.setenv(ENCRYPTION_KEY_FILE_ENV, str(key))
    for encryption in ("aes-gcm", "sqlcipher"):
        location = tmp_path / f"{encryption}.gallery"
        with Gallery.create(location, "dlib-resnet", encryption=encryption) as gallery:
            enrol_first_two(gallery, lfw_faces)
            assert gallery.cipher is not None and gallery.cipher.fingerprint == load_key(key).fingerprint
        assert (SQLITE_HEADER in location.read_bytes()[:16]) == (encryption == "aes-gcm")


def test_protected_and_sqlcipher_gallery_exist_ok_and_keys(lfw_faces, tmp_path):
    protection_key = save_key(ProtectionKey.generate(), tmp_path / "protection.key")
    key = save_key(ProtectionKey.generate(), tmp_path / "db.key")
    location = tmp_path / "both.gallery"
    options = {"protection": "slerp", "key": protection_key, "encryption_key": key, "encryption": "sqlcipher",
               "exist_ok": True}
    with Gallery.create(location, "dlib-resnet", **options) as gallery:
        enrol_first_two(gallery, lfw_faces)
    with Gallery.create(location, "dlib-resnet", **options) as again:
        assert again.model.protection["scheme"] == "slerp"
        assert again.search_embedding(lfw_faces.vectors[5]).matches[0].identity_id == "person1"
    other = save_key(ProtectionKey.generate(), tmp_path / "other.key")
    with pytest.raises(WrongKeyError, match="exists and is protected with key"):
        Gallery.create(location, "dlib-resnet", **{**options, "key": other})
    with pytest.raises(ModelMismatchError, match="protected: slerp"):
        Gallery.create(location, "dlib-resnet", encryption_key=key, encryption="sqlcipher", exist_ok=True)
    with pytest.raises(WrongKeyError, match="protected with key"):
        Gallery.open(location, key=other, encryption_key=key)
    with pytest.raises(WrongKeyError, match="cannot be decrypted with key"):
        Gallery.open(location, key=protection_key, encryption_key=other)


def test_cli_backend_opt_sqlcipher_create_twice_and_open(lfw_faces, tmp_path):
    from typer.testing import CliRunner

    from facetrust.cli.main import app

    key = save_key(ProtectionKey.generate(), tmp_path / "db.key")
    location = str(tmp_path / "vault.gallery")
    runner = CliRunner()
    create = ["gallery", "create", location, "-r", "dlib-resnet", "--backend-opt", "encryption=sqlcipher"]
    missing = runner.invoke(app, create)
    assert missing.exit_code == 1 and "no encryption key given" in missing.output
    first = runner.invoke(app, create, env={ENCRYPTION_KEY_FILE_ENV: str(key)})
    assert first.exit_code == 0, first.output
    assert SQLITE_HEADER not in Path(location).read_bytes()
    second = runner.invoke(app, create, env={ENCRYPTION_KEY_FILE_ENV: str(key)})
    assert second.exit_code == 1 and "already exists" in second.output and len(second.output.strip().splitlines()) == 1
    stats = runner.invoke(app, ["gallery", "stats", location, "--backend-opt", "encryption=sqlcipher", "--json"],
                          env={ENCRYPTION_KEY_FILE_ENV: str(key)})
    assert stats.exit_code == 0 and '"sqlcipher"' in stats.output
    wrong = runner.invoke(app, ["gallery", "stats", location, "--backend-opt", "encryption=aes-gcm"],
                          env={ENCRYPTION_KEY_FILE_ENV: str(key)})
    assert wrong.exit_code == 1 and "encrypted with sqlcipher, not encryption='aes-gcm'" in wrong.output
