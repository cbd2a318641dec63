"""Erasure with a concurrent reader: ``remove`` returns promptly with an ErasureWarning, and the
removed bytes leave the database, write-ahead log and index files as soon as the reader leaves."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from facetrust.gallery import ErasureWarning, Gallery
from facetrust.gallery.sqlite import ERASURE_WAIT_S
from gallery_vectors import unit_vectors

#: A hang guard, not a benchmark: erasure waits ERASURE_WAIT_S (2 s) for readers, then returns.
#: Before the fix it retried a 30 s busy wait 50 times (up to 25 minutes).
RETURNS_WITHIN_S = 20.0

# Another process holding a read transaction on the gallery until told to stop (a line on stdin).
_READER = textwrap.dedent("""
    import sqlite3, sys
    # Read-only: its close cannot checkpoint the log itself, so the gallery must.
    conn = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, isolation_level=None)
    conn.execute("BEGIN")
    conn.execute("SELECT count(*) FROM templates").fetchone()
    print("reading", flush=True)
    sys.stdin.readline()
    conn.execute("COMMIT")
    conn.close()
""")


def files_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}.index")) if p.exists())


def enrolled(path: Path) -> tuple[Gallery, list[bytes]]:
    vectors = unit_vectors(3, seed=40)
    gallery = Gallery.create(path, "dlib-resnet")
    gallery.enroll("keep", embeddings=vectors[0], name="Kept Person")
    gallery.enroll("gone", embeddings=vectors[1:3], name="Erased Person", metadata={"badge": "XK-4711"})
    gallery.flush()
    secrets = [vectors[1].tobytes(), vectors[2].tobytes(), b"Erased Person", b"XK-4711"]
    assert all(secret in files_bytes(path) for secret in secrets)
    return gallery, secrets


def start_reader(path: Path) -> subprocess.Popen:
    reader = subprocess.Popen([sys.executable, "-c", _READER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert reader.stdout.readline().strip() == "reading"
    return reader


def stop_reader(reader: subprocess.Popen) -> None:
    reader.stdin.write("done\n")
    reader.stdin.close()
    assert reader.wait(30) == 0


def test_removal_with_a_reader_returns_promptly_and_scrubs_when_it_leaves(tmp_path):
    path = tmp_path / "busy.gallery"
    gallery, secrets = enrolled(path)
    reader = start_reader(path)
    try:
        start = time.monotonic()
        with pytest.warns(ErasureWarning, match="another connection is reading"):
            assert gallery.remove("gone") == (1, 2)
        assert time.monotonic() - start < RETURNS_WITHIN_S
        assert ERASURE_WAIT_S <= RETURNS_WITHIN_S
        assert "gone" not in gallery and gallery.backend.scrub_pending
        # The reader's snapshot still needs the old pages: the warning was true.
        assert [s for s in secrets if s in files_bytes(path)]
        assert not [s for s in secrets if s in Path(f"{path}.index").read_bytes()]  # the index is rewritten at once
    finally:
        stop_reader(reader)
    deadline = time.monotonic() + RETURNS_WITHIN_S
    while gallery.backend.scrub_pending and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not gallery.backend.scrub_pending
    assert not [s for s in secrets if s in files_bytes(path)]
    assert b"Kept Person" in files_bytes(path)
    gallery.close()
    assert not [s for s in secrets if s in files_bytes(path)]


def test_a_scrub_left_pending_at_close_finishes_at_the_next_open(tmp_path):
    path = tmp_path / "later.gallery"
    gallery, secrets = enrolled(path)
    reader = start_reader(path)
    try:
        with pytest.warns(ErasureWarning):
            gallery.remove("gone")
        gallery.close()  # the reader is still there: the scrub cannot finish yet
        assert [s for s in secrets if s in files_bytes(path)]
    finally:
        stop_reader(reader)
    with Gallery.open(path) as reopened:
        assert not [s for s in secrets if s in files_bytes(path)]
        assert reopened.get("keep").name == "Kept Person"
