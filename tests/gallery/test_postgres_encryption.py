"""Encryption at rest on PostgreSQL, against the real server of the ``pg_url`` fixture: no template
bytes anywhere in the data directory (tables, indexes, write-ahead log) or a COPY dump, keys checked,
swapped rows detected, key rotation, and several processes sharing one encrypted gallery."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facetrust.errors import ConfigError, CorruptDataError, PrivacyKeyError, WrongKeyError
from facetrust.gallery import EnrollRecord, Gallery
from facetrust.privacy import ProtectionKey, save_key
from facetrust.privacy.encryption import ENCRYPTION_KEY_ENV, ENCRYPTION_KEY_FILE_ENV, rotate_key
from gallery_vectors import noisy, unit_vectors


@pytest.fixture(autouse=True)
def no_key_in_environment(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv(ENCRYPTION_KEY_ENV, raising=False)
    monkeypatch.delenv(ENCRYPTION_KEY_FILE_ENV, raising=False)


def _key(tmp_path: Path, name: str) -> Path:
    return save_key(ProtectionKey.generate(), tmp_path / "keys" / name)


def _data_directory(pg_server, conn) -> bytes:  # type: ignore[no-untyped-def]
    """Every file PostgreSQL has written (tables, indexes, write-ahead log …), after a checkpoint."""
    conn.execute("CHECKPOINT")
    return b"".join(p.read_bytes() for p in Path(pg_server.pgdata).rglob("*") if p.is_file())


def _dump(conn, schema: str) -> bytes:  # type: ignore[no-untyped-def]
    """The templates table as ``COPY … TO STDOUT`` gives it, in binary (raw column bytes) and in text."""
    out = b""
    for options in ("(FORMAT binary)", ""):
        with conn.cursor().copy(f"COPY {schema}.templates TO STDOUT {options}") as copy:
            out += b"".join(bytes(chunk) for chunk in copy)
    return out


def _leaks(raw: bytes, vectors: np.ndarray, dump: bool = False) -> list[str]:
    """Vectors (or 16-byte slices of them) whose float32 bytes occur in ``raw``: little-endian (how the
    data files hold them), and for a dump also big-endian (binary COPY) and as hex digits (text COPY)."""
    found = []
    for row, vector in enumerate(np.asarray(vectors, dtype="<f4")):
        forms = [("<", vector.tobytes())] + ([(">", vector.astype(">f4").tobytes())] if dump else [])
        for order, data in forms:
            for start in (0, 100, len(data) - 16) if dump else (0, len(data) // 2):
                piece = data[start:start + 16]
                if piece in raw or (dump and piece.hex().encode() in raw):
                    found.append(f"vector {row}, {order} bytes {start}..{start + 16}")
    return found


def test_no_template_bytes_in_the_data_directory_or_a_dump(pg_server, pg_url, tmp_path):
    vectors = unit_vectors(40, seed=60)
    key = _key(tmp_path, "pg.key")
    with Gallery.create(pg_url, "dlib-resnet", schema="sealed", encryption_key=key) as gallery:
        gallery.enroll_many([EnrollRecord(f"p{i}", vectors[2 * i:2 * i + 2]) for i in range(20)], batch_size=7)
        queries = np.stack([noisy(vectors[i], seed=i, scale=0.05) for i in range(0, 40, 3)])
        results = gallery.search_embeddings(queries, k=2)
        exact = queries @ vectors.T
        for query, result in enumerate(results):
            assert result.matches[0].identity_id == f"p{int(np.argmax(exact[query])) // 2}"
            assert result.matches[0].score == pytest.approx(float(exact[query].max()), abs=1e-5)
        stats = gallery.stats()
        assert stats["index"]["kind"] == "memory" and stats["encryption"]["cipher"] == "AES-256-GCM"
        conn = gallery.backend._conn  # type: ignore[attr-defined]
        assert conn.execute("SELECT count(*) FROM pg_indexes WHERE schemaname = 'sealed' "
                            "AND indexdef LIKE '%hnsw%'").fetchone()[0] == 0  # pgvector cannot index ciphertext
        assert not _leaks(_data_directory(pg_server, conn), vectors)
        assert not _leaks(_dump(conn, "sealed"), vectors, dump=True)
        gallery.export(tmp_path / "sealed.jsonl")
        assert not _leaks((tmp_path / "sealed.jsonl").read_bytes(), vectors)
        assert gallery.check().ok
        # The templates come back exactly (export/quality-mean fusion read them decrypted).
        stored = gallery.backend.templates_of(["p3"])["p3"][1]  # type: ignore[attr-defined]
        np.testing.assert_array_equal(stored, vectors[6:8])
    # The same templates in a plain PostgreSQL gallery are where this grep finds them.
    with Gallery.create(pg_url, "dlib-resnet", schema="unsealed") as plain:
        plain.enroll_many([EnrollRecord(f"p{i}", vectors[2 * i:2 * i + 2]) for i in range(20)])
        conn = plain.backend._conn  # type: ignore[attr-defined]
        assert _leaks(_dump(conn, "unsealed"), vectors, dump=True) and _leaks(_data_directory(pg_server, conn), vectors)
    with Gallery.open(pg_url, schema="sealed", encryption_key=key) as again:
        again.remove("p0")
        found = again.search_embeddings(vectors[:4], k=3)
        assert all("p0" not in [m.identity_id for m in r.matches] for r in found)
        assert [r.matches[0].identity_id for r in found[2:]] == ["p1", "p1"]


def test_missing_wrong_and_needless_keys(pg_url, tmp_path):
    key, other = _key(tmp_path, "a.key"), _key(tmp_path, "b.key")
    Gallery.create(pg_url, "dlib-resnet", schema="keyed", encryption_key=key).close()
    with pytest.raises(PrivacyKeyError, match="is encrypted .*no encryption key given"):
        Gallery.open(pg_url, schema="keyed")
    with pytest.raises(WrongKeyError, match="encrypted with key"):
        Gallery.open(pg_url, schema="keyed", encryption_key=other)
    Gallery.create(pg_url, "dlib-resnet", schema="keyless").close()
    with pytest.raises(ConfigError, match="not encrypted"):
        Gallery.open(pg_url, schema="keyless", encryption_key=key)
    with pytest.raises(PrivacyKeyError):
        Gallery.create(pg_url, "dlib-resnet", schema="nokey", encrypt=True)
    with Gallery.open(pg_url, schema="keyed", encryption_key=key) as gallery:
        assert gallery.cipher is not None and len(gallery) == 0


def test_a_row_moved_to_another_template_fails_authentication(pg_url, tmp_path):
    import psycopg

    vectors = unit_vectors(3, seed=61)
    key = _key(tmp_path, "k.key")
    with Gallery.create(pg_url, "dlib-resnet", schema="swapped", encryption_key=key) as gallery:
        gallery.enroll("ada", embeddings=vectors[0])
        gallery.enroll("bob", embeddings=vectors[1:])
    with psycopg.connect(pg_url, autocommit=True) as conn:  # an attacker with write access to the table
        ada, bob = conn.execute("SELECT t.id FROM swapped.templates t ORDER BY t.id LIMIT 2").fetchall()
        conn.execute("UPDATE swapped.templates SET vector = (SELECT vector FROM swapped.templates WHERE id = %s) "
                     "WHERE id = %s", (bob[0], ada[0]))
    with Gallery.open(pg_url, schema="swapped", encryption_key=key) as gallery:
        with pytest.raises(CorruptDataError, match=f"template {ada[0]} of identity 'ada' fails its authentication"):
            gallery.search_embedding(vectors[1])
        report = gallery.check()
        assert not report.ok and f"ids {ada[0]}" in report.problems[0]
        gallery.remove("ada")
        assert gallery.check().ok
        assert gallery.search_embedding(vectors[1]).matches[0].identity_id == "bob"


def test_rotate_key_re_encrypts_every_row_and_other_processes_notice(pg_server, pg_url, tmp_path):
    vectors = unit_vectors(6, seed=62)
    old, new = _key(tmp_path, "old.key"), _key(tmp_path, "new.key")
    with Gallery.create(pg_url, "dlib-resnet", schema="rotated", encryption_key=old) as gallery:
        gallery.enroll_many([EnrollRecord(f"p{i}", vectors[i]) for i in range(6)])
        conn = gallery.backend._conn  # type: ignore[attr-defined]
        before = [bytes(r[0]) for r in conn.execute("SELECT vector FROM rotated.templates")]
    elsewhere = Gallery.open(pg_url, schema="rotated", encryption_key=old)  # another application server
    assert elsewhere.search_embedding(vectors[2]).matches[0].identity_id == "p2"
    calls = []
    report = rotate_key(pg_url, old, new, schema="rotated", progress=lambda done, total: calls.append((done, total)))
    assert report.templates == 6 and calls[-1] == (6, 6)
    with pytest.raises(WrongKeyError, match="re-encrypted"):
        elsewhere.search_embedding(vectors[2])
    elsewhere.close()
    with pytest.raises(WrongKeyError):
        Gallery.open(pg_url, schema="rotated", encryption_key=old)
    with Gallery.open(pg_url, schema="rotated", encryption_key=new) as gallery:
        assert [r.matches[0].identity_id for r in gallery.search_embeddings(vectors, k=1)] == [f"p{i}" for i in range(6)]
        assert gallery.check().ok
        conn = gallery.backend._conn  # type: ignore[attr-defined]
        conn.execute("CHECKPOINT")
        relation = conn.execute("SELECT pg_relation_filepath('rotated.templates')").fetchone()[0]
        table = b"".join(f.read_bytes() for f in Path(pg_server.pgdata).glob(f"{relation}*"))
    # VACUUM FULL rewrote the table: no old ciphertext is left in its files (the write-ahead log
    # keeps old row versions until PostgreSQL recycles it, as for any update).
    assert table and not [b for b in before if b in table]


def test_several_processes_share_one_encrypted_gallery(pg_url, tmp_path):
    vectors = unit_vectors(4, seed=63)
    key = _key(tmp_path, "shared.key")
    with Gallery.create(pg_url, "dlib-resnet", schema="shared_sealed", encryption_key=key) as writer, \
            Gallery.open(pg_url, schema="shared_sealed", encryption_key=key, readonly=True) as reader:
        writer.enroll("ada", embeddings=vectors[0])
        assert reader.search_embedding(vectors[0]).matches[0].identity_id == "ada"
        writer.enroll("bob", embeddings=vectors[1])
        writer.add_templates("ada", embeddings=vectors[2])
        assert reader.search_embedding(vectors[1]).matches[0].identity_id == "bob"
        assert reader.search_embedding(vectors[2]).matches[0].score == pytest.approx(1.0, abs=1e-5)
        writer.remove("bob")
        assert [m.identity_id for m in reader.search_embedding(vectors[1], k=5).matches] == ["ada"]
