"""PostgreSQL + pgvector specifics, against the real server of the ``pg_url`` fixture
(the shared API behaviour runs on both backends in test_api.py)."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from facetrust.errors import ConfigError, GalleryError
from facetrust.gallery import EnrollRecord, Gallery
from gallery_vectors import noisy, unit_vectors


def test_hnsw_index_search_matches_exact_search(pg_url):
    vectors = unit_vectors(300, seed=30)
    with Gallery.create(pg_url, "dlib-resnet", schema="hnsw") as gallery:
        gallery.enroll_many([EnrollRecord(f"p{i}", vectors[i]) for i in range(300)], batch_size=100)
        assert gallery.stats()["index"]["kind"] == "hnsw"
        queries = np.stack([noisy(vectors[i], seed=i, scale=0.05) for i in range(0, 300, 3)])
        results = gallery.search_embeddings(queries, k=2)
        indexes = gallery.backend._conn.execute(  # type: ignore[attr-defined]
            "SELECT indexdef FROM pg_indexes WHERE schemaname = 'hnsw'").fetchall()
        assert any("hnsw" in row[0] and "vector_ip_ops" in row[0] for row in indexes)
        assert gallery.check().ok
    exact = queries @ vectors.T
    for query, result in enumerate(results):
        assert result.matches[0].identity_id == f"p{int(np.argmax(exact[query]))}"
        assert result.matches[0].score == pytest.approx(float(exact[query].max()), abs=1e-5)


def test_removed_rows_leave_the_table_files(pg_server, pg_url):
    vectors = unit_vectors(3, seed=31)
    with Gallery.create(pg_url, "dlib-resnet", schema="erase") as gallery:
        conn = gallery.backend._conn  # type: ignore[attr-defined]

        def table_files() -> bytes:
            """The heap and index files of the gallery's tables, as PostgreSQL wrote them."""
            conn.execute("CHECKPOINT")
            relations = ["erase.templates", "erase.identities"] + [r[0] for r in conn.execute(
                "SELECT indexrelid::regclass::text FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'erase'")]
            paths = [conn.execute("SELECT pg_relation_filepath(%s)", (r,)).fetchone()[0] for r in relations]
            return b"".join(f.read_bytes() for p in paths for f in Path(pg_server.pgdata).glob(f"{p}*"))

        gallery.enroll("keep", embeddings=vectors[0], name="Kept Person")
        gallery.enroll("gone", embeddings=vectors[1:], name="Erased Person")
        secrets = [vectors[1].tobytes(), vectors[2].tobytes(), b"Erased Person"]
        assert all(s in table_files() for s in secrets)
        gallery.remove("gone")
        after = table_files()
        assert not [s for s in secrets if s in after]
        assert vectors[0].tobytes() in after and b"Kept Person" in after
        assert gallery.search_embedding(vectors[1], k=5).matches[0].identity_id == "keep"


def test_removal_with_an_open_reader_returns_promptly_and_vacuums_at_close(pg_server, pg_url):
    import psycopg

    from facetrust.gallery import ErasureWarning
    from facetrust.gallery.postgres import ERASURE_WAIT_S

    vectors = unit_vectors(2, seed=32)
    gallery = Gallery.create(pg_url, "dlib-resnet", schema="busy")
    gallery.enroll("keep", embeddings=vectors[0])
    gallery.enroll("gone", embeddings=vectors[1], name="Erased Person")
    reader = psycopg.connect(pg_url)  # a transaction left open: it holds a lock on the table
    reader.execute("SELECT count(*) FROM busy.templates").fetchone()
    try:
        start = time.monotonic()
        with pytest.warns(ErasureWarning, match="open transaction"):
            assert gallery.remove("gone") == (1, 1)
        assert time.monotonic() - start < 10 * ERASURE_WAIT_S  # a hang guard: VACUUM FULL used to wait forever
        assert "gone" not in gallery
    finally:
        reader.rollback()
        reader.close()
    files = pg_server.pgdata
    path = gallery.backend._conn.execute("SELECT pg_relation_filepath('busy.identities')").fetchone()[0]  # type: ignore[attr-defined]
    gallery.close()  # the reader left: the pending VACUUM FULL runs now
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        rewritten = conn.execute("SELECT pg_relation_filepath('busy.identities')").fetchone()[0]
    assert rewritten != path  # VACUUM FULL wrote new table files
    assert b"Erased Person" not in b"".join(f.read_bytes() for f in Path(files).glob(f"{rewritten}*"))


def test_bad_locations(pg_url):
    with pytest.raises(GalleryError, match="no gallery"):
        Gallery.open(pg_url, schema="nothing_here")
    with pytest.raises(ConfigError, match="schema"):
        Gallery.open(pg_url, schema="Robert'); DROP TABLE x;--")
    with pytest.raises(GalleryError, match="cannot connect"):
        Gallery.open("postgresql://nobody:secret@127.0.0.1:1/none?connect_timeout=2")
    try:
        Gallery.open("postgresql://nobody:secret@127.0.0.1:1/none?connect_timeout=2")
    except GalleryError as exc:
        assert "secret" not in str(exc)  # passwords never reach messages


def test_a_lost_database_is_reported_as_unavailable_and_the_gallery_reconnects():
    import shutil
    import tempfile
    import warnings

    from facetrust.errors import DatabaseUnavailableError
    from facetrust.gallery.postgres import connect

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

        pgdata = Path(tempfile.mkdtemp(prefix="facetrust-lost-pg-"))  # its own server: this test stops it
        server = pgserver.get_server(pgdata, cleanup_mode="stop")
    try:
        server.psql("CREATE EXTENSION IF NOT EXISTS vector;")
        url = str(server.get_uri())
        vectors = unit_vectors(2, seed=33)
        with Gallery.create(url, "dlib-resnet", schema="lost") as gallery:
            gallery.enroll("kept", embeddings=vectors[0])
            server.cleanup()  # the database goes away under the open gallery
            with pytest.raises(DatabaseUnavailableError, match="cannot connect|connection was lost"):
                gallery.search_embedding(vectors[0])
            with pytest.raises(DatabaseUnavailableError):
                gallery.enroll("refused", embeddings=vectors[1])
            with pytest.raises(DatabaseUnavailableError, match=r"tried \d+ times in 0.3 s"):
                connect(url, retry_for_s=0.3)
            server = pgserver.get_server(pgdata, cleanup_mode="stop")  # back: the next call reconnects
            assert gallery.search_embedding(vectors[0]).identity == "kept"
            assert "refused" not in gallery  # the write that met the outage stored nothing
    finally:
        server.cleanup()
        shutil.rmtree(pgdata, ignore_errors=True)
