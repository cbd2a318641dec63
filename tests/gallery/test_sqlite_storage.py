"""The embedded backend's promises, checked on the files themselves: erasure, crash safety,
concurrent readers, index rebuild and catch-up, bad files, read-only locations."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

from facetrust.errors import GalleryError
from facetrust.gallery import EnrollRecord, Gallery, GalleryIndexWarning, IndexConfig
from facetrust.gallery.faiss_index import AUTO_APPROXIMATE
from gallery_vectors import noisy, unit_vectors

ROOT = Path(__file__).resolve().parents[2]


def files_bytes(path: Path) -> bytes:
    """Everything the gallery keeps on disk: database, write-ahead log, index."""
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}.index")) if p.exists())


def test_removed_identity_is_gone_from_every_file(tmp_path):
    path = tmp_path / "erase.gallery"
    vectors = unit_vectors(3, seed=20)
    with Gallery.create(path, "dlib-resnet") as gallery:
        gallery.enroll("keep", embeddings=vectors[0], name="Kept Person")
        gallery.enroll("gone", embeddings=vectors[1:3], name="Erased Person", metadata={"badge": "XK-4711"})
        gallery.flush()  # the (flat) index file now holds the raw float32 vectors too
        secrets = [vectors[1].tobytes(), vectors[2].tobytes(), b"Erased Person", b"XK-4711"]
        before = files_bytes(path)
        assert all(secret in before for secret in secrets)  # present before: the check can see them
        assert vectors[1].tobytes() in Path(f"{path}.index").read_bytes()

        gallery.remove("gone")
        after = files_bytes(path)
        assert not [s for s in secrets if s in after]
        assert vectors[0].tobytes() in after and b"Kept Person" in after  # the rest is still readable
        assert Path(f"{path}-wal").stat().st_size == 0  # checkpointed and truncated
    assert not [s for s in secrets if s in files_bytes(path)]


def test_removed_template_leaves_the_approximate_index(tmp_path):
    vectors = unit_vectors(400, seed=21)
    with Gallery.create(tmp_path / "ivf.gallery", "dlib-resnet", index=IndexConfig(kind="ivf")) as gallery:
        gallery.enroll_many([EnrollRecord(f"p{i}", vectors[i]) for i in range(400)])
        gallery.flush()
        assert gallery.stats()["index"]["kind"] == "ivf"
        victim = gallery.get("p5").templates[0].id
        gallery.remove("p5")
        assert victim not in set(gallery.backend._index.ids().tolist())  # type: ignore[attr-defined]
        assert gallery.search_embedding(vectors[5], k=3).matches[0].identity_id != "p5"
    with Gallery.open(tmp_path / "ivf.gallery") as reopened:
        report = reopened.check()
        assert report.ok and report.index_entries == 399


_BULK_CHILD = textwrap.dedent("""
    import sys, time
    import numpy as np
    from facetrust.gallery import EnrollRecord, Gallery, NewTemplate

    def vectors(i):
        v = np.random.default_rng(i).standard_normal((2, 128)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    class PausingTemplates(list):
        # Iterated only inside the enrolment transaction: announce that, then wait to be killed.
        def __iter__(self):
            print("inside", flush=True)
            time.sleep(60)
            return super().__iter__()

    path, batch, batches = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    gallery = Gallery.open(path)
    for start in range(0, batches * batch, batch):
        gallery.enroll_many((EnrollRecord(f"id{i:06d}", vectors(i)) for i in range(start, start + batch)),
                            batch_size=batch)
        if start == 2 * batch:
            gallery.flush()  # an index file that the crash will leave stale
        print(start + batch, flush=True)
    start = batches * batch
    records = [(f"id{i:06d}", None, "{}", [NewTemplate(v) for v in vectors(i)]) for i in range(start, start + batch)]
    records[batch // 2] = records[batch // 2][:3] + (PausingTemplates(records[batch // 2][3]),)
    gallery.backend.enroll(records)
""")


def test_kill_9_during_bulk_enrolment_keeps_exactly_the_committed_batches(tmp_path):
    path = tmp_path / "crash.gallery"
    Gallery.create(path, "dlib-resnet").close()
    batch, batches = 100, 8
    child = subprocess.Popen([sys.executable, "-c", _BULK_CHILD, str(path), str(batch), str(batches)], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    lines = []
    for line in child.stdout:
        lines.append(line.strip())
        if line.strip() == "inside":
            break
    child.send_signal(signal.SIGKILL)  # half of batch 9 is inserted, uncommitted
    child.wait()
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL and lines[-2:] == [str(batches * batch), "inside"]
    assert Path(f"{path}-wal").stat().st_size > 0  # the dead writer left its log behind

    with Gallery.open(path) as gallery:
        report = gallery.check()
        assert report.ok, report.problems
        assert len(gallery) == batches * batch
        assert report.templates == report.index_entries == 2 * batches * batch
        assert [i.id for i in gallery.list()] == [f"id{i:06d}" for i in range(batches * batch)]
        for i in (0, 450, batches * batch - 1):
            stored = np.random.default_rng(i).standard_normal((2, 128)).astype(np.float32)
            result = gallery.search_embedding(stored[1] / np.linalg.norm(stored[1]), k=1)
            assert result.matches[0].identity_id == f"id{i:06d}"
            assert result.matches[0].score == pytest.approx(1.0, abs=1e-6)
        # The interrupted batch can simply be enrolled again.
        gallery.enroll("id000800", embeddings=unit_vectors(1, seed=27))
        assert gallery.check().ok


_SLOW_WRITER = textwrap.dedent("""
    import sys, time
    import numpy as np
    from facetrust.gallery import EnrollRecord, Gallery

    vectors = np.load(sys.argv[2])
    with Gallery.open(sys.argv[1]) as gallery:
        for start in range(0, len(vectors), 50):
            gallery.enroll_many([EnrollRecord(f"p{i:05d}", vectors[i]) for i in range(start, start + 50)])
            time.sleep(0.01)
""")


def test_readers_are_safe_while_a_writer_enrols(tmp_path):
    path = tmp_path / "busy.gallery"
    vectors = unit_vectors(1500, seed=22)
    np.save(tmp_path / "vectors.npy", vectors)
    with Gallery.create(path, "dlib-resnet") as gallery:
        gallery.enroll("p-first", embeddings=vectors[0])
    writer = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, str(path), str(tmp_path / "vectors.npy")],
                              cwd=ROOT)
    seen = []
    with Gallery.open(path, readonly=True) as reader:
        while True:
            finished = writer.poll() is not None  # checked first: the count below then includes every commit
            count = len(reader)
            assert not seen or count >= seen[-1]
            seen.append(count)
            assert (count - 1) % 50 == 0  # whole transactions only
            assert reader.search_embedding(vectors[0]).matches[0].identity_id in ("p-first", "p00000")
            if count > 1:  # the newest identity this reader counted is searchable
                newest = count - 2
                assert reader.search_embedding(vectors[newest], k=2).matches[0].score == pytest.approx(1.0, abs=1e-6)
            if finished:
                break
        assert writer.returncode == 0 and seen[-1] == 1501
        assert len(set(seen)) > 3 and reader.check().ok


def test_corrupt_or_foreign_index_file_is_rebuilt_with_a_warning(tmp_path):
    path = tmp_path / "c.gallery"
    vectors = unit_vectors(50, seed=23)
    with Gallery.create(path, "dlib-resnet") as gallery:
        gallery.enroll_many([EnrollRecord(f"p{i}", vectors[i]) for i in range(50)])
    index_file = Path(f"{path}.index")
    data = bytearray(index_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    index_file.write_bytes(bytes(data))
    with pytest.warns(GalleryIndexWarning, match="CRC"):
        with Gallery.open(path) as gallery:
            assert gallery.search_embedding(vectors[7]).identity == "p7"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with Gallery.open(path) as gallery:  # rewritten on close: no warning now
            assert gallery.check().ok
    index_file.write_bytes(b"garbage")
    with pytest.warns(GalleryIndexWarning, match="footer"):
        assert Gallery.open(path, readonly=True).check().ok
    # An index file from another gallery of the same size is not trusted either.
    with Gallery.create(tmp_path / "other.gallery", "dlib-resnet") as other:
        other.enroll_many([EnrollRecord(f"p{i}", vectors[::-1][i]) for i in range(50)])
    index_file.write_bytes(Path(f"{tmp_path / 'other.gallery'}.index").read_bytes())
    with pytest.warns(GalleryIndexWarning, match="another gallery"):
        with Gallery.open(path) as gallery:
            assert gallery.search_embedding(vectors[7]).identity == "p7"


def test_stale_index_file_is_caught_up_or_rebuilt(tmp_path):
    path = tmp_path / "s.gallery"
    vectors = unit_vectors(30, seed=24)
    with Gallery.create(path, "dlib-resnet") as gallery:
        gallery.enroll_many([EnrollRecord(f"p{i}", vectors[i]) for i in range(20)])
    stale = Path(f"{path}.index").read_bytes()
    with Gallery.open(path) as gallery:
        gallery.enroll_many([EnrollRecord(f"p{i}", vectors[i]) for i in range(20, 30)])
    Path(f"{path}.index").write_bytes(stale)  # as after a kill -9 before the index was saved
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # new templates are found by id: no rebuild needed
        with Gallery.open(path, readonly=True) as gallery:
            assert gallery.check().index_entries == 30
            assert gallery.search_embedding(vectors[25]).identity == "p25"
    with Gallery.open(path) as gallery:
        gallery.remove(["p0", "p1"])  # saves the index and drops the removal log up to here
    Path(f"{path}.index").write_bytes(stale)  # an index older than the log: its generation gives it away
    with pytest.warns(GalleryIndexWarning, match="generation"):
        with Gallery.open(path, readonly=True) as gallery:
            assert gallery.check().ok and gallery.check().index_entries == 28
            assert {m.identity_id for m in gallery.search_embedding(vectors[0], k=30).matches}.isdisjoint({"p0", "p1"})


def test_index_switches_from_exact_to_approximate_as_the_gallery_grows(tmp_path):
    path = tmp_path / "grow.gallery"
    vectors = unit_vectors(3000, seed=25)
    with Gallery.create(path, "dlib-resnet", index=IndexConfig(approximate_above=1000)) as gallery:
        gallery.enroll_many([EnrollRecord(f"p{i}", vectors[i]) for i in range(500)])
        gallery.flush()
        assert gallery.stats()["index"]["kind"] == "flat"
        gallery.enroll_many([EnrollRecord(f"p{i}", vectors[i]) for i in range(500, 3000)])
        gallery.flush()
        index = gallery.stats()["index"]
        assert index["kind"] == AUTO_APPROXIMATE and index["entries"] == 3000
        queries = np.stack([noisy(vectors[i], seed=i, scale=0.05) for i in range(0, 3000, 10)])
        approximate = gallery.search_embeddings(queries, k=3)
    exact_scores = queries @ vectors.T
    for query, result in enumerate(approximate):  # whatever it found is scored exactly
        for match in result.matches:
            assert match.score == pytest.approx(exact_scores[query, int(match.identity_id[1:])], abs=1e-5)
    with Gallery.open(path, index=IndexConfig(kind="ivf")) as gallery:
        index = gallery.stats()["index"]
        assert index["kind"] == "ivf" and index["nprobe"] < index["nlist"]
    # Visiting every list, the IVF index (8-bit codes + exact re-scoring) equals exact search.
    with Gallery.open(path, index=IndexConfig(kind="ivf", nprobe=index["nlist"])) as gallery:
        assert gallery.stats()["index"]["kind"] == "ivf"
        results = gallery.search_embeddings(queries, k=3)
    top3 = np.argsort(-exact_scores, axis=1)[:, :3]
    assert [[m.identity_id for m in r.matches] for r in results] == [[f"p{i}" for i in row] for row in top3]


def test_files_that_are_not_galleries(tmp_path):
    junk = tmp_path / "junk.gallery"
    junk.write_bytes(os.urandom(4096))
    with pytest.raises(GalleryError, match="not a facetrust gallery"):
        Gallery.open(junk)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(GalleryError, match="not a facetrust gallery"):
        Gallery.open(other)
    with pytest.raises(GalleryError, match="no gallery"):
        Gallery.open(tmp_path / "missing.gallery")
    with pytest.raises(GalleryError, match="already exists"):
        Gallery.create(junk, "dlib-resnet")
    assert junk.stat().st_size == 4096  # untouched


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder the process cannot write to: permissions when not root, else a read-only bind mount."""
    source, view = tmp_path / "rw", tmp_path / "ro"
    source.mkdir()
    view.mkdir()
    if os.geteuid() != 0:
        yield source, source  # the test makes it read-only once the gallery is in it
        source.chmod(0o700)
        return
    mounted = subprocess.run(["mount", "--bind", str(source), str(view)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"running as root and cannot bind-mount read-only: {mounted.stderr.decode().strip()}")
    try:
        remount = subprocess.run(["mount", "-o", "remount,ro,bind", str(view)], capture_output=True)
        if remount.returncode != 0:
            pytest.skip(f"cannot remount read-only: {remount.stderr.decode().strip()}")
        yield source, view
    finally:
        subprocess.run(["umount", str(view)], check=False)


def test_read_only_location(read_only_folder):
    source, view = read_only_folder
    vectors = unit_vectors(2, seed=26)
    with Gallery.create(source / "g.gallery", "dlib-resnet") as gallery:
        gallery.enroll("a", embeddings=vectors[0])
    if source == view:
        source.chmod(0o500)
    try:
        with pytest.raises(GalleryError, match="read-only"):
            Gallery.open(view / "g.gallery")
        with Gallery.open(view / "g.gallery", readonly=True) as gallery:
            assert gallery.search_embedding(vectors[0]).identity == "a"
            with pytest.raises(GalleryError, match="read-only"):
                gallery.enroll("b", embeddings=vectors[1])
        with pytest.raises(GalleryError, match="cannot create"):
            Gallery.create(view / "new.gallery", "dlib-resnet")
    finally:
        source.chmod(0o700)
    with Gallery.open(source / "g.gallery") as gallery:
        assert [i.id for i in gallery.list()] == ["a"]
