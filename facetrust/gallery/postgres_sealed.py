"""Encrypted templates in PostgreSQL: sealing rows and the in-memory index that searches them.

pgvector searches the vectors inside the database, and it cannot search ciphertext. An
encrypted PostgreSQL gallery therefore stores each template as ``bytea`` (AES-256-GCM,
:mod:`facetrust.privacy.encryption`, associated data = gallery uuid, template id, identity
id) and searches an exact inner-product index in the application's memory, built from the
decrypted vectors. Several processes can share the gallery: every write transaction bumps
the gallery's ``generation`` (one row of ``state``), and a search whose generation differs
from the index's first brings the index up to date (new template ids decrypted and added,
removed ones dropped).
"""
from __future__ import annotations

import json
from typing import Any, Sequence

import numpy as np

from facetrust.errors import CorruptDataError, WrongKeyError
from facetrust.gallery.base import Candidate, damaged_vector
from facetrust.privacy.encryption import TemplateCipher, template_data


class SealedRows:
    """Sealing and opening the template rows of one encrypted gallery."""

    def __init__(self, cipher: TemplateCipher, gallery_uuid: str, dim: int, location: str) -> None:
        self.cipher = cipher
        self.uuid = gallery_uuid
        self.dim = dim
        self.location = location

    def seal(self, vector: np.ndarray, template_id: int, identity_id: str) -> bytes:
        plain = np.ascontiguousarray(vector, dtype="<f4").tobytes()
        return self.cipher.seal(plain, template_data(self.uuid, template_id, identity_id))

    def open(self, blob: Any, template_id: int, identity_id: str) -> np.ndarray:
        """The vector of a row; :class:`CorruptDataError` naming it when it fails authentication
        or decrypts to something that is not ``dim`` finite float32 values."""
        what = f"{self.location}: template {template_id} of identity {identity_id!r}"
        plain = self.cipher.open(blob, template_data(self.uuid, template_id, identity_id), what)
        if damaged_vector(plain, self.dim):
            raise CorruptDataError(f"{what} has a damaged vector (wrong size or not finite)")
        return np.frombuffer(plain, dtype="<f4").copy()


class MemoryIndex:
    """Exact inner-product search over decrypted vectors, kept in step with the database."""

    def __init__(self, dim: int) -> None:
        self.generation: int | None = None
        self.ids = np.zeros(0, dtype=np.int64)
        self.owners = np.zeros(0, dtype=np.int64)  # identity pk of each template
        self.vectors = np.zeros((0, dim), dtype=np.float32)

    def __len__(self) -> int:
        return len(self.ids)

    def refresh(self, c: Any, schema: str, rows: SealedRows) -> None:
        """Bring the index up to date with the database on connection ``c`` (inside a transaction)."""
        (generation,) = c.execute(f"SELECT generation FROM {schema}.state").fetchone()
        if generation == self.generation:
            return
        spec = dict(c.execute(f"SELECT key, value FROM {schema}.meta WHERE key = 'encryption'").fetchall())
        stored = json.loads(spec["encryption"]).get("key_fingerprint") if spec else None
        if stored != rows.cipher.fingerprint:
            raise WrongKeyError(f"{rows.location} was re-encrypted with key {stored} since it was opened "
                                f"(key {rows.cipher.fingerprint}): open it again with the new key")
        current = np.array([r[0] for r in c.execute(f"SELECT id FROM {schema}.templates ORDER BY id")],
                           dtype=np.int64)
        keep = np.isin(self.ids, current)
        new_ids = np.setdiff1d(current, self.ids[keep], assume_unique=True)
        ids, owners, vectors = [self.ids[keep]], [self.owners[keep]], [self.vectors[keep]]
        if len(new_ids):
            fetched = c.execute(f"SELECT t.id, t.identity_pk, i.id, t.vector FROM {schema}.templates t "
                                f"JOIN {schema}.identities i ON i.pk = t.identity_pk WHERE t.id = ANY(%s) "
                                "ORDER BY t.id", (new_ids.tolist(),)).fetchall()
            ids.append(np.array([r[0] for r in fetched], dtype=np.int64))
            owners.append(np.array([r[1] for r in fetched], dtype=np.int64))
            vectors.append(np.stack([rows.open(blob, tid, ident) for tid, _, ident, blob in fetched])
                           if fetched else np.zeros((0, rows.dim), dtype=np.float32))
        self.ids, self.owners = np.concatenate(ids), np.concatenate(owners)
        self.vectors = np.concatenate(vectors)
        self.generation = generation

    def search(self, c: Any, schema: str, queries: np.ndarray, k: int) -> list[list[Candidate]]:
        """Per query, the best-scoring templates covering at least ``k`` identities (fewer when
        the gallery has fewer), best first, with exact scores."""
        results = []
        names: dict[int, tuple[str, str | None]] = {}
        all_scores = queries.astype(np.float32) @ self.vectors.T if len(self) else np.zeros((len(queries), 0))
        for scores in all_scores:
            want = min(len(scores), max(32, 4 * k))
            while True:
                top = np.argpartition(-scores, want - 1)[:want] if want < len(scores) else np.arange(len(scores))
                top = top[np.argsort(-scores[top], kind="stable")]
                if len(np.unique(self.owners[top])) >= k or want >= len(scores):
                    break
                want = min(len(scores), want * 4)
            missing = [int(p) for p in np.unique(self.owners[top]) if int(p) not in names]
            if missing:
                for pk, ident, name in c.execute(f"SELECT pk, id, name FROM {schema}.identities WHERE pk = ANY(%s)",
                                                 (missing,)):
                    names[int(pk)] = (ident, name)
            results.append([Candidate(int(self.ids[i]), *names[int(self.owners[i])], float(scores[i]))
                            for i in top if int(self.owners[i]) in names])
        return results


def sealed_templates(c: Any, schema: str, after: int = 0, limit: int | None = None) -> Sequence[tuple[int, str, Any]]:
    """(template id, identity id, ciphertext) rows by id, for checks and key rotation."""
    return c.execute(f"SELECT t.id, i.id, t.vector FROM {schema}.templates t JOIN {schema}.identities i "
                     "ON i.pk = t.identity_pk WHERE t.id > %s ORDER BY t.id LIMIT %s", (after, limit)).fetchall()
