"""SQLite and OS failures become typed errors (one line in the CLI), and lose nothing committed:
a full disk (a size-limited tmpfs when this process may mount one, else SQLite's
``max_page_count``), a corrupted database page, a damaged stored vector, a truncated export."""
from __future__ import annotations

import gzip
import os
import sqlite3
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from facetrust.errors import CorruptDataError, GalleryError, IdentityNotFoundError, StorageFullError
from facetrust.gallery import DamagedTemplateWarning, EnrollRecord, ErasureWarning, Gallery, GalleryIndexWarning
from gallery_vectors import unit_vectors

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: object) -> subprocess.CompletedProcess:
    """The real ``facetrust`` command in a subprocess: what a user sees on stderr."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "facetrust.cli.main", "gallery", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=300)


def one_error_line(result: subprocess.CompletedProcess, *fragments: str) -> str:
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()  # a progress bar may come before the error
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0] and "Traceback" not in result.stderr, result.stderr
    assert all(f in errors[0] for f in fragments), errors[0]
    return errors[0]


def records(n: int, seed: int) -> list[EnrollRecord]:
    return [EnrollRecord(f"p{i}", v, name=f"Person {i}") for i, v in enumerate(unit_vectors(n, seed))]


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 4 MiB tmpfs: a real filesystem that fills up. Needs the right to mount (root)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (not root); the max_page_count test covers a full database")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path, leave: int = 0) -> Path:
    """Fill the filesystem of ``folder``, then free ``leave`` bytes again."""
    filler = folder / "filler"
    chunk = b"\xff" * 65536
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, chunk):
            pass
    except OSError:
        pass  # ENOSPC: full
    finally:
        os.close(fd)
    if leave:
        os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


def test_enrolment_on_a_full_disk_is_one_line_and_stores_nothing(small_disk, tmp_path):
    gallery = small_disk / "full.gallery"
    vectors = tmp_path / "new.npy"
    np.save(vectors, unit_vectors(200, seed=51))  # 200 templates need more pages than are left
    opened = Gallery.create(gallery, "dlib-resnet")
    opened.enroll_many(records(20, seed=50))
    fill(small_disk)  # the disk fills up while the gallery is in use
    with pytest.raises(StorageFullError, match="disk is full"):
        opened.enroll("newcomer", embeddings=unit_vectors(200, seed=51))
    assert "newcomer" not in opened and len(opened) == 20
    one_error_line(cli("enroll", gallery, "--id", "newcomer", "--embeddings", vectors), "disk is full")
    with pytest.warns(GalleryIndexWarning, match="disk is full.*catches up"):
        opened.close()  # the index file is a cache: not saving it is a warning
    one_error_line(cli("enroll", gallery, "--id", "newcomer", "--embeddings", vectors), "disk is full")
    (small_disk / "filler").unlink()
    with Gallery.open(gallery) as opened:
        assert opened.check().ok and len(opened) == 20
        opened.enroll("newcomer", embeddings=unit_vectors(200, seed=51))  # space again: it works


def test_removal_on_a_full_disk_commits_and_says_so(small_disk):
    gallery_path = small_disk / "erase.gallery"
    vectors = unit_vectors(1500, seed=52)  # a flat index file of ~800 KB: rewriting it needs that much space
    gallery = Gallery.create(gallery_path, "dlib-resnet")
    gallery.enroll_many([EnrollRecord(f"p{i}", v) for i, v in enumerate(vectors)])
    gallery.flush()
    secret = vectors[7].tobytes()
    fill(small_disk, leave=256 * 1024)  # room for the deletion's log frames, not for a new index file
    with pytest.warns(ErasureWarning, match="removal committed.*disk is full"):
        assert gallery.remove("p7") == (1, 1)
    assert "p7" not in gallery
    with pytest.raises(IdentityNotFoundError):  # a retry is told the truth: it is gone
        gallery.remove("p7")
    everything = b"".join(p.read_bytes() for p in small_disk.glob("erase.gallery*"))
    assert secret not in everything  # the stale index file was deleted, the log checkpointed
    assert gallery.search_embedding(vectors[8], k=1).matches[0].identity_id == "p8"  # index rebuilt in memory
    (small_disk / "filler").unlink()
    gallery.close()
    with Gallery.open(gallery_path) as reopened:
        assert reopened.check().ok and len(reopened) == 1499


def test_a_full_database_raises_storage_full(tmp_path):
    """Without a mount: SQLite's own size limit makes the database full for this connection."""
    with Gallery.create(tmp_path / "limited.gallery", "dlib-resnet") as gallery:
        gallery.enroll_many(records(10, seed=53))
        (pages,) = gallery.backend._conn.execute("PRAGMA page_count").fetchone()  # type: ignore[attr-defined]
        gallery.backend._conn.execute(f"PRAGMA max_page_count = {pages}")  # type: ignore[attr-defined]
        with pytest.raises(StorageFullError, match="full"):
            gallery.enroll("big", embeddings=unit_vectors(300, seed=54))
        assert "big" not in gallery and len(gallery) == 10


def test_a_corrupted_page_is_a_typed_error(tmp_path):
    path = tmp_path / "corrupt.gallery"
    with Gallery.create(path, "dlib-resnet") as gallery:
        gallery.enroll_many(records(400, seed=55))
    with sqlite3.connect(path) as conn:
        (page_size,) = conn.execute("PRAGMA page_size").fetchone()
        (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'templates'").fetchone()
    conn.close()
    with open(path, "r+b") as raw:  # the templates table's root page becomes garbage
        raw.seek((root - 1) * page_size)
        raw.write(np.random.default_rng(0).bytes(page_size))
    with pytest.raises(CorruptDataError, match="damaged"):
        with Gallery.open(path) as opened:
            opened.export(tmp_path / "out.jsonl")
    one_error_line(cli("export", path, tmp_path / "out.jsonl"), "is damaged")
    one_error_line(cli("list", path), "is damaged")


def test_a_damaged_vector_is_skipped_and_reported(tmp_path):
    path = tmp_path / "damaged.gallery"
    with Gallery.create(path, "dlib-resnet") as gallery:
        gallery.enroll_many(records(5, seed=56))
        gallery.add_templates("p1", embeddings=unit_vectors(1, seed=57))
        victims = [gallery.get("p0").templates[0].id, gallery.get("p1").templates[0].id]
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE templates SET vector = x'0102' WHERE id = ?", (victims[0],))
        conn.execute("UPDATE templates SET vector = ? WHERE id = ?", (np.full(128, np.nan, "<f4").tobytes(), victims[1]))
    conn.close()
    Path(f"{path}.index").unlink()
    with Gallery.open(path) as gallery:
        with pytest.warns(DamagedTemplateWarning, match=rf"2 template\(s\).*{victims[0]}, {victims[1]}"):
            assert gallery.export(tmp_path / "out.jsonl") == 4  # p0 had only the damaged template
        exported = [line for line in (tmp_path / "out.jsonl").read_text().splitlines()[1:]]
        assert len(exported) == 4 and '"p0"' not in "".join(exported)
        with pytest.warns(DamagedTemplateWarning, match="left out of the index"):
            gallery.reindex()
        assert gallery.search_embedding(unit_vectors(5, seed=56)[3], k=1).matches[0].identity_id == "p3"
        report = gallery.check()
        assert ["2 template(s) have a damaged vector"] == [p[:35] for p in report.problems]
    result = cli("export", path, tmp_path / "cli.jsonl")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("warning: 2 template(s) with a damaged vector") == 1
    assert "Traceback" not in result.stderr


def test_a_truncated_export_is_a_typed_error(tmp_path):
    with Gallery.create(tmp_path / "source.gallery", "dlib-resnet") as gallery:
        gallery.enroll_many(records(300, seed=58))
        gallery.export(tmp_path / "all.jsonl.gz")
    data = (tmp_path / "all.jsonl.gz").read_bytes()
    (tmp_path / "cut.jsonl.gz").write_bytes(data[:len(data) // 2])
    (tmp_path / "stub.jsonl.gz").write_bytes(data[:12])
    with Gallery.create(tmp_path / "copy.gallery", "dlib-resnet") as copy:
        with pytest.raises(CorruptDataError, match="truncated or damaged"):
            copy.import_file(tmp_path / "cut.jsonl.gz", batch_size=50)
        stored = len(copy)
        assert stored % 50 == 0 and 0 < stored < 300  # whole batches before the damage, nothing half-written
        with pytest.raises(GalleryError, match="not a gallery export"):
            copy.import_file(tmp_path / "stub.jsonl.gz")
    one_error_line(cli("import", tmp_path / "copy2.gallery", tmp_path / "cut.jsonl.gz"), "truncated or damaged")
    assert gzip.decompress(data).count(b"\n") == 301  # the intact export is complete
