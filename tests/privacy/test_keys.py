"""Keys: generation, key files (0600, warnings), environment variable, fingerprints, bad keys."""
from __future__ import annotations

import os
import stat

import pytest

from facetrust.errors import PrivacyKeyError, WrongKeyError
from facetrust.privacy import KEY_ENV, KeyFilePermissionWarning, ProtectionKey, load_key, read_key_file, save_key


def test_generated_keys_are_distinct_and_round_trip_through_a_0600_file(tmp_path):
    key, other = ProtectionKey.generate(), ProtectionKey.generate()
    assert key.secret != other.secret and key.fingerprint != other.fingerprint
    assert key.hex() not in repr(key) and key.fingerprint in repr(key)
    path = save_key(key, tmp_path / "app.key")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_key_file(path) == key
    assert load_key(path) == key
    with pytest.raises(PrivacyKeyError, match="already exists"):
        save_key(other, path)
    assert read_key_file(path) == key  # the refused write left the old key intact
    assert [p.name for p in tmp_path.iterdir()] == ["app.key"]


def test_key_from_the_environment(monkeypatch):
    key = ProtectionKey.generate()
    monkeypatch.setenv(KEY_ENV, key.hex())
    assert load_key() == key
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(PrivacyKeyError, match=KEY_ENV):
        load_key()
    monkeypatch.setenv(KEY_ENV, key.hex()[:40])
    with pytest.raises(PrivacyKeyError, match="64 hex digits"):
        load_key()
    monkeypatch.setenv(KEY_ENV, "zz" * 32)
    with pytest.raises(PrivacyKeyError, match="not a hexadecimal key"):
        load_key()


def test_key_file_readable_by_others_warns(tmp_path):
    path = save_key(ProtectionKey.generate(), tmp_path / "app.key")
    os.chmod(path, 0o644)
    with pytest.warns(KeyFilePermissionWarning, match="chmod 600"):
        read_key_file(path)


def test_missing_short_and_corrupted_key_files(tmp_path):
    with pytest.raises(PrivacyKeyError, match="not found"):
        read_key_file(tmp_path / "absent.key")
    key = ProtectionKey.generate()
    path = save_key(key, tmp_path / "app.key")
    magic, version, secret, fingerprint = path.read_text().split()
    path.write_text(f"{magic} {version} {secret[:32]} {fingerprint}\n")
    with pytest.raises(PrivacyKeyError, match="64 hex digits"):
        read_key_file(path)
    flipped = ("0" if secret[0] != "0" else "1") + secret[1:]
    path.write_text(f"{magic} {version} {flipped} {fingerprint}\n")
    with pytest.raises(PrivacyKeyError, match="corrupted"):
        read_key_file(path)
    path.write_bytes(b"\x00\xff garbage")
    with pytest.raises(PrivacyKeyError):
        read_key_file(path)
    with pytest.raises(PrivacyKeyError, match="32 bytes"):
        ProtectionKey(b"short")


def test_check_compares_fingerprints():
    key = ProtectionKey.generate()
    key.check(key.fingerprint, "gallery")
    with pytest.raises(WrongKeyError, match="gallery was protected with key"):
        key.check(ProtectionKey.generate().fingerprint, "gallery")


def test_a_key_file_that_cannot_be_written_is_a_typed_error(tmp_path):
    from facetrust.errors import PrivacyKeyError
    from facetrust.privacy import ProtectionKey
    from facetrust.privacy.keys import save_key

    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(PrivacyKeyError, match="cannot write"):
        save_key(ProtectionKey.generate(), blocker / "k.key")
    assert blocker.read_text() == "x"
