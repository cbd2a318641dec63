"""`gallery rotate-key`: all templates and the index under the new key, or none; a real process killed mid-rotation."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from facetrust.errors import ConfigError, WrongKeyError
from facetrust.gallery import EnrollRecord, Gallery, GalleryIndexWarning
from facetrust.privacy import ProtectionKey, save_key
from facetrust.privacy.encryption import ENCRYPTION_KEY_ENV, ENCRYPTION_KEY_FILE_ENV, rotate_key
from tests_privacy_helpers import enrol_first_two

#: Enough templates for several re-encryption batches (facetrust.gallery.sqlite._ROTATE_CHUNK = 5,000).
FILLER = 7_000


@pytest.fixture(autouse=True)
def no_key_in_environment(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv(ENCRYPTION_KEY_ENV, raising=False)
    monkeypatch.delenv(ENCRYPTION_KEY_FILE_ENV, raising=False)


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return (save_key(ProtectionKey.generate(), tmp_path / "old.key"),
            save_key(ProtectionKey.generate(), tmp_path / "new.key"))


def _gallery(location: Path, key: Path, faces) -> None:  # type: ignore[no-untyped-def]
    """The six LFW people plus filler identities: their embeddings with small perturbations."""
    rng = np.random.default_rng(0)
    with Gallery.create(location, "dlib-resnet", encryption_key=key) as gallery:
        enrol_first_two(gallery, faces)
        noisy = np.repeat(faces.vectors, FILLER // len(faces.vectors) + 1, axis=0)[:FILLER]
        noisy = noisy + rng.normal(0, 0.05, noisy.shape)
        gallery.enroll_many(EnrollRecord(f"filler{i}", noisy[i]) for i in range(FILLER))


def _search_ok(location: Path, key: Path, faces) -> None:  # type: ignore[no-untyped-def]
    with Gallery.open(location, encryption_key=key) as gallery:
        assert gallery.check().ok
        # person0's enrolled embedding itself: the filler copies are perturbed, so person0 comes first.
        best = gallery.search_embedding(faces.vectors[0], k=1).matches[0]
        assert best.identity_id == "person0" and best.score > 0.999
        assert len(gallery) == 6 + FILLER


def test_rotation_re_encrypts_everything_and_old_ciphertexts_leave_the_files(lfw_faces, keys, tmp_path):
    old, new = keys
    location = tmp_path / "staff.gallery"
    _gallery(location, old, lfw_faces)
    with Gallery.open(location, encryption_key=old) as gallery:
        gallery.flush()
    import sqlite3

    with sqlite3.connect(f"file:{location}?mode=ro", uri=True) as db:
        before = [r[0] for r in db.execute("SELECT vector FROM templates ORDER BY id LIMIT 50")]
    report = rotate_key(location, old, new)
    assert report.templates == 6 * 2 + FILLER and report.new_fingerprint != report.old_fingerprint
    with pytest.raises(WrongKeyError):
        Gallery.open(location, encryption_key=old)
    _search_ok(location, new, lfw_faces)
    # No ciphertext under the old key stays in the database, its log or the index.
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("staff.gallery*"))
    assert not [b for b in before if b[12:40] in raw]
    with pytest.raises(ConfigError, match="is the current key"):
        rotate_key(location, new, new)


def test_a_process_killed_mid_rotation_leaves_the_old_key_state_whole(lfw_faces, keys, tmp_path):
    old, new = keys
    location = tmp_path / "staff.gallery"
    _gallery(location, old, lfw_faces)
    # The rotation runs in its own process; its progress callback (called after each batch of
    # re-encrypted rows, inside the transaction) reports and waits, and the test kills it there.
    script = textwrap.dedent(f"""
        import sys, time
        from facetrust.privacy.encryption import rotate_key
        def report(done, total):
            print(done, total, flush=True)
            time.sleep(60)
        rotate_key({str(location)!r}, {str(old)!r}, {str(new)!r}, progress=report)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        done, total = map(int, process.stdout.readline().split())  # type: ignore[union-attr]
        assert 0 < done < total
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait(30)
    assert process.returncode == -signal.SIGKILL
    with pytest.raises(WrongKeyError):
        Gallery.open(location, encryption_key=new)
    _search_ok(location, old, lfw_faces)  # every row authenticates under the old key
    # Rotating again completes; a crash between its commit and the index write leaves an index
    # under the old key, which is refused and rebuilt, never read.
    stale = Path(f"{location}.index").read_bytes()
    rotate_key(location, old, new)
    Path(f"{location}.index").write_bytes(stale)
    with pytest.warns(GalleryIndexWarning, match="fails its authentication"):
        _search_ok(location, new, lfw_faces)


def test_cli_rotate_key(lfw_faces, keys, tmp_path):
    old, new = keys
    location = tmp_path / "staff.gallery"
    with Gallery.create(location, "dlib-resnet", encryption_key=old) as gallery:
        enrol_first_two(gallery, lfw_faces)
    env = {k: v for k, v in os.environ.items() if k not in (ENCRYPTION_KEY_ENV, ENCRYPTION_KEY_FILE_ENV)}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "facetrust.cli.main", "gallery", "rotate-key", *args],
                              capture_output=True, text=True, env=env, timeout=120)

    done = cli(str(location), "--old-key", str(old), "--new-key", str(new))
    assert done.returncode == 0 and "re-encrypted 12 templates" in done.stdout and "verified" in done.stdout
    again = cli(str(location), "--old-key", str(old), "--new-key", str(new))
    assert again.returncode == 1 and again.stderr.strip().startswith("error:") and "encrypted with key" in again.stderr
    assert again.stderr.count("\n") == 1
    with Gallery.create(tmp_path / "plain.gallery", "dlib-resnet"):
        pass
    plain = cli(str(tmp_path / "plain.gallery"), "--old-key", str(old), "--new-key", str(new))
    assert plain.returncode == 1 and "not encrypted" in plain.stderr and plain.stderr.count("\n") == 1
    with Gallery.open(location, encryption_key=new) as gallery:
        assert gallery.search_embedding(lfw_faces.vectors[5], k=1).matches[0].identity_id == "person1"
