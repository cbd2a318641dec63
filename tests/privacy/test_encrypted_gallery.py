"""Encrypted galleries at rest: no template bytes on disk, keys checked, tampering detected, exports encrypted."""
from __future__ import annotations

import base64
import json
import os
import sqlite3
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from facetrust.errors import ConfigError, CorruptDataError, PrivacyKeyError, WrongKeyError
from facetrust.gallery import Gallery
from facetrust.privacy import KeyFilePermissionWarning, ProtectionKey, protector_from_spec, save_key
from facetrust.privacy.encryption import ENCRYPTION_KEY_ENV, ENCRYPTION_KEY_FILE_ENV, rotate_key
from facetrust.privacy.evaluation import eval_key
from tests_privacy_helpers import enrol_first_two


@pytest.fixture(autouse=True)
def no_key_in_environment(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv(ENCRYPTION_KEY_ENV, raising=False)
    monkeypatch.delenv(ENCRYPTION_KEY_FILE_ENV, raising=False)


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return save_key(ProtectionKey.generate(), tmp_path / "keys" / "gallery.key")


def _files(gallery: Path) -> dict[str, bytes]:
    """Every file of a gallery: database, -wal, -shm, index."""
    return {p.name: p.read_bytes() for p in gallery.parent.glob(gallery.name + "*") if p.is_file()}


def _leaks(raw: bytes, stored: np.ndarray) -> list[str]:
    """Templates (or 16-byte slices of them, at several offsets) whose float32 bytes occur in ``raw``."""
    found = []
    for row, vector in enumerate(np.asarray(stored, dtype="<f4")):
        data = vector.tobytes()
        for start in (0, 4, 100, len(data) // 2, len(data) - 16):
            if data[start:start + 16] in raw:
                found.append(f"template {row}, bytes {start}..{start + 16}")
    return found


@pytest.mark.parametrize("protection", [None, "slerp"])
def test_no_template_bytes_in_any_file(protection, lfw_faces, key_file, tmp_path):
    location = tmp_path / "staff.gallery"
    privacy = {"protection": protection, "key": save_key(eval_key(20), tmp_path / "p.key")} if protection else {}
    with Gallery.create(location, "dlib-resnet", encryption_key=key_file, **privacy) as gallery:
        enrol_first_two(gallery, lfw_faces)
        gallery.add_templates("person1", embeddings=lfw_faces.vectors[5])
        probes = lfw_faces.vectors[2::3]
        found = [r.matches[0].identity_id for r in gallery.search_embeddings(probes, k=3)]
        assert found == [f"person{i}" for i in range(len(probes))]
        # What the gallery stores: the embeddings, or their protected templates.
        stored = (protector_from_spec(gallery.model.protection, eval_key(20)).protect(lfw_faces.vectors)
                  if protection else lfw_faces.vectors)
        gallery.flush()  # the index file is written; the -wal and -shm files exist while it is open
        files = _files(location)
        assert {"staff.gallery", "staff.gallery-wal", "staff.gallery-shm", "staff.gallery.index"} <= set(files)
        assert not _leaks(b"".join(files.values()), stored)
        gallery.export(tmp_path / "staff.jsonl")
        gallery.export(tmp_path / "staff.jsonl.gz")
    export = (tmp_path / "staff.jsonl").read_bytes()
    assert not _leaks(export, stored) and not _leaks(base64.b64encode(export), stored)
    header = json.loads(export.splitlines()[0])
    assert header["encryption"]["cipher"] == "AES-256-GCM"
    assert not _leaks(b"".join(_files(location).values()), stored)  # closed: database and index
    # The same enrolment without encryption leaves the bytes where this grep finds them.
    with Gallery.create(tmp_path / "plain.gallery", "dlib-resnet", **privacy) as plain:
        enrol_first_two(plain, lfw_faces)
    assert _leaks(b"".join(_files(tmp_path / "plain.gallery").values()), stored)
    # Reopened with the key it searches as before; the stats name the key, never the secret.
    with Gallery.open(location, encryption_key=key_file, **({"key": privacy["key"]} if protection else {})) as again:
        assert again.search_embedding(lfw_faces.vectors[2], k=1).matches[0].identity_id == "person0"
        assert again.stats()["encryption"]["key_fingerprint"] == again.cipher.fingerprint
        assert again.check().ok


def test_wrong_missing_short_and_corrupted_keys_are_typed_errors(lfw_faces, key_file, tmp_path, monkeypatch):
    location = tmp_path / "staff.gallery"
    with Gallery.create(location, "dlib-resnet", encryption_key=key_file) as gallery:
        enrol_first_two(gallery, lfw_faces)
    other = save_key(ProtectionKey.generate(), tmp_path / "other.key")
    with pytest.raises(WrongKeyError, match="encrypted with key"):
        Gallery.open(location, encryption_key=other)
    with pytest.raises(PrivacyKeyError, match="is encrypted .*no encryption key given"):
        Gallery.open(location)
    monkeypatch.setenv(ENCRYPTION_KEY_ENV, "ab" * 31)
    with pytest.raises(PrivacyKeyError, match="a key has 64 hex digits, got 62"):
        Gallery.open(location)
    monkeypatch.setenv(ENCRYPTION_KEY_ENV, "zz" * 32)
    with pytest.raises(PrivacyKeyError, match="not a hexadecimal key"):
        Gallery.open(location)
    monkeypatch.delenv(ENCRYPTION_KEY_ENV)
    corrupted = tmp_path / "corrupted.key"
    text = key_file.read_text()
    corrupted.write_text(text[:30] + ("0" if text[30] != "0" else "1") + text[31:])
    os.chmod(corrupted, 0o600)
    with pytest.raises(PrivacyKeyError, match="corrupted key file"):
        Gallery.open(location, encryption_key=corrupted)
    with pytest.raises(PrivacyKeyError, match="key file not found"):
        Gallery.open(location, encryption_key=tmp_path / "missing.key")
    with pytest.raises(ConfigError, match="not encrypted: it takes no encryption key"):
        with Gallery.create(tmp_path / "plain.gallery", "dlib-resnet"):
            pass
        Gallery.open(tmp_path / "plain.gallery", encryption_key=key_file)
    # The key from the environment: hex, or a key file path.
    monkeypatch.setenv(ENCRYPTION_KEY_FILE_ENV, str(key_file))
    with Gallery.open(location) as gallery:
        assert len(gallery) == 6
    monkeypatch.setenv(ENCRYPTION_KEY_ENV, key_file.read_text().split()[2])
    with Gallery.open(location) as gallery:
        assert len(gallery) == 6
    # A key file that other users can read works, with a warning.
    os.chmod(key_file, 0o644)
    with pytest.warns(KeyFilePermissionWarning, match="chmod 600"):
        Gallery.open(location, encryption_key=key_file).close()


def test_cli_key_errors_are_one_line(lfw_faces, key_file, tmp_path):
    location = tmp_path / "staff.gallery"
    created = _cli("gallery", "create", str(location), "--encryption-key", str(key_file))
    assert created.returncode == 0 and "encrypted with key" in created.stdout
    other = save_key(ProtectionKey.generate(), tmp_path / "other.key")
    for env, message in [({}, "no encryption key given"),
                         ({ENCRYPTION_KEY_FILE_ENV: str(other)}, "but the key given has fingerprint"),
                         ({ENCRYPTION_KEY_ENV: "abcd"}, "a key has 64 hex digits, got 4"),
                         ({ENCRYPTION_KEY_FILE_ENV: str(tmp_path / "nope.key")}, "key file not found")]:
        result = _cli("gallery", "stats", str(location), env=env)
        assert result.returncode == 1 and result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    opened = _cli("gallery", "stats", str(location), "--json", env={ENCRYPTION_KEY_FILE_ENV: str(key_file)})
    assert opened.returncode == 0 and json.loads(opened.stdout)["encryption"]["cipher"] == "AES-256-GCM"


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in (ENCRYPTION_KEY_ENV, ENCRYPTION_KEY_FILE_ENV)}
    return subprocess.run([sys.executable, "-m", "facetrust.cli.main", *args], capture_output=True, text=True,
                          env={**environment, **(env or {})}, timeout=120)


def test_tampered_rows_are_corrupt_data_naming_the_template(lfw_faces, key_file, tmp_path):
    location = tmp_path / "staff.gallery"
    with Gallery.create(location, "dlib-resnet", encryption_key=key_file) as gallery:
        enrol_first_two(gallery, lfw_faces)
        ids = {i.id: [t.id for t in i.templates] for i in gallery.list()}
    a, b = ids["person0"][0], ids["person3"][0]
    with sqlite3.connect(location) as db:  # an attacker with the file swaps two ciphertexts
        blob_a, blob_b = (db.execute("SELECT vector FROM templates WHERE id = ?", (t,)).fetchone()[0] for t in (a, b))
        db.execute("UPDATE templates SET vector = ? WHERE id = ?", (blob_b, a))
        db.execute("UPDATE templates SET vector = ? WHERE id = ?", (blob_a, b))
    with Gallery.open(location, encryption_key=key_file) as gallery:
        # person3's stored template now sits in person0's row: matching it must not return person0.
        with pytest.raises(CorruptDataError, match=rf"template {a} of identity 'person0' fails its authentication"):
            gallery.search_embedding(lfw_faces.vectors[0], k=1)
        report = gallery.check()
        assert not report.ok and any(f"ids {a}, {b}" in p and "fail authentication" in p for p in report.problems)
        gallery.remove(["person0", "person3"])  # erasing the tampered rows makes the gallery whole again
        assert gallery.check().ok
        assert gallery.search_embedding(lfw_faces.vectors[3], k=1).matches[0].identity_id == "person1"
    # A flipped bit, and a template moved to another identity, are caught the same way.
    with sqlite3.connect(location) as db:
        tid, blob = db.execute("SELECT id, vector FROM templates ORDER BY id LIMIT 1").fetchone()
        db.execute("UPDATE templates SET vector = ? WHERE id = ?", (blob[:20] + bytes([blob[20] ^ 1]) + blob[21:], tid))
        moved = db.execute("SELECT max(id) FROM templates").fetchone()[0]
        db.execute("UPDATE templates SET identity_pk = (SELECT min(identity_pk) FROM templates) WHERE id = ?", (moved,))
    Path(f"{location}.index").unlink()  # the index is rebuilt from every row: the first bad one stops it
    with Gallery.open(location, encryption_key=key_file) as gallery:
        with pytest.raises(CorruptDataError, match=rf"template {tid} of identity .* fails its authentication"):
            gallery.search_embedding(lfw_faces.vectors[0], k=1)
    # A key rotation stops at the first such row and changes nothing.
    other = save_key(ProtectionKey.generate(), tmp_path / "other.key")
    with pytest.raises(CorruptDataError, match=rf"template {tid} of identity"):
        rotate_key(location, key_file, other)
    with pytest.raises(WrongKeyError):
        Gallery.open(location, encryption_key=other)
    result = _cli("gallery", "check", str(location), env={ENCRYPTION_KEY_FILE_ENV: str(key_file)})
    assert result.returncode == 1 and "2 encrypted template(s) fail authentication" in result.stdout
    assert f"ids {tid}, {moved}" in result.stdout and "Traceback" not in result.stderr


def test_encrypted_export_round_trip_and_refusals(lfw_faces, key_file, tmp_path):
    with Gallery.create(tmp_path / "staff.gallery", "dlib-resnet", encryption_key=key_file) as gallery:
        enrol_first_two(gallery, lfw_faces)
        gallery.update("person2", name="Gerhard", metadata={"team": "b"})
        gallery.export(tmp_path / "staff.jsonl")
    other = save_key(ProtectionKey.generate(), tmp_path / "other.key")
    with pytest.raises(WrongKeyError, match="encrypted with key"):
        Gallery.from_export(tmp_path / "wrong.gallery", tmp_path / "staff.jsonl", export_key=other)
    with pytest.raises(PrivacyKeyError, match="no encryption key given"):
        Gallery.from_export(tmp_path / "none.gallery", tmp_path / "staff.jsonl")
    assert not (tmp_path / "none.gallery").exists()
    # Into a new gallery: encrypted with the export's key, identical templates.
    with Gallery.from_export(tmp_path / "copy.gallery", tmp_path / "staff.jsonl", export_key=key_file) as copy:
        assert copy.cipher.fingerprint == ProtectionKey(bytes.fromhex(key_file.read_text().split()[2])).fingerprint
        assert copy.get("person2").name == "Gerhard"
        original = Gallery.open(tmp_path / "staff.gallery", encryption_key=key_file)
        for identity in ("person0", "person5"):
            assert np.array_equal(copy.backend.templates_of([identity])[identity][1],
                                  original.backend.templates_of([identity])[identity][1])
        original.close()
    # Into a plain gallery, when the caller decides so (the key is still needed to read it).
    with Gallery.create(tmp_path / "plain.gallery", "dlib-resnet") as plain:
        assert plain.import_file(tmp_path / "staff.jsonl", encryption_key=key_file) == 6
    # A tampered export line is a CorruptDataError naming the line; nothing of that batch is stored.
    lines = (tmp_path / "staff.jsonl").read_text().splitlines()
    row = json.loads(lines[3])
    row["templates"][0]["vector"], row["templates"][1]["vector"] = row["templates"][1]["vector"], row["templates"][0]["vector"]
    (tmp_path / "tampered.jsonl").write_text("\n".join(lines[:3] + [json.dumps(row)] + lines[4:]) + "\n")
    with Gallery.create(tmp_path / "target.gallery", "dlib-resnet", encryption_key=key_file) as target:
        with pytest.raises(CorruptDataError, match="tampered.jsonl, line 4, template 1 fails its authentication"):
            target.import_file(tmp_path / "tampered.jsonl")
        assert len(target) == 0
    # The CLI: import into a new file keeps the export encrypted; export says it is encrypted.
    env = {ENCRYPTION_KEY_FILE_ENV: str(key_file)}
    imported = _cli("gallery", "import", str(tmp_path / "cli.gallery"), str(tmp_path / "staff.jsonl"), env=env)
    assert imported.returncode == 0 and "imported 6 identities" in imported.stdout, imported.stderr
    exported = _cli("gallery", "export", str(tmp_path / "cli.gallery"), str(tmp_path / "cli.jsonl"), env=env)
    assert exported.returncode == 0 and "encrypted with key" in exported.stdout
    refused = _cli("gallery", "import", str(tmp_path / "other.gallery"), str(tmp_path / "cli.jsonl"),
                   "--export-key", str(other))
    assert refused.returncode == 1 and "encrypted with key" in refused.stderr and refused.stderr.count("\n") == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with Gallery.open(tmp_path / "cli.gallery", encryption_key=key_file) as cli_gallery:
            assert cli_gallery.check().ok and len(cli_gallery) == 6
