"""On-disk embedding cache keyed by (image content sha256, model key).

A second evaluation with the same model costs only the matching. Rows are
committed in small batches, so an interrupted run keeps what it computed and
the next run resumes from there. SQLite in WAL mode: safe for one writer and
concurrent readers.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from facetrust.io.sqlite_cache import SqliteCache, cache_file, content_hash

_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    model_key TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    detected INTEGER NOT NULL,      -- 1 if a face was detected, 0 if not
    vector BLOB,                    -- float32 embedding of the selected face (NULL if none)
    fallback_vector BLOB,           -- float32 embedding from the fallback box (NULL if not computed)
    PRIMARY KEY (model_key, content_sha256)
)
"""


@dataclass(frozen=True)
class CachedEmbedding:
    detected: bool
    vector: np.ndarray | None
    fallback_vector: np.ndarray | None

    def best(self) -> np.ndarray | None:
        """The detected face's embedding, else the fallback one."""
        return self.vector if self.vector is not None else self.fallback_vector


__all__ = ["CachedEmbedding", "EmbeddingCache", "content_hash"]


def _blob(vector: np.ndarray | None) -> bytes | None:
    return None if vector is None else np.asarray(vector, dtype=np.float32).tobytes()


def _vector(blob: bytes | None) -> np.ndarray | None:
    return None if blob is None else np.frombuffer(blob, dtype=np.float32).copy()


class EmbeddingCache(SqliteCache):
    def __init__(self, path: Path | None = None) -> None:
        super().__init__(path or cache_file("embeddings.sqlite"), _SCHEMA)

    def get_many(self, model_key: str, hashes: Iterable[str]) -> dict[str, CachedEmbedding]:
        found: dict[str, CachedEmbedding] = {}
        wanted = list(dict.fromkeys(hashes))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = self._db.execute(
                f"SELECT content_sha256, detected, vector, fallback_vector FROM embeddings "
                f"WHERE model_key = ? AND content_sha256 IN ({','.join('?' * len(chunk))})",
                [model_key, *chunk],
            )
            for digest, detected, vector, fallback in rows:
                found[digest] = CachedEmbedding(bool(detected), _vector(vector), _vector(fallback))
        return found

    def put_many(self, model_key: str, items: dict[str, CachedEmbedding]) -> None:
        with self._db:  # one transaction: all or nothing
            self._db.executemany(
                "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?, ?)",
                [(model_key, digest, int(e.detected), _blob(e.vector), _blob(e.fallback_vector))
                 for digest, e in items.items()],
            )
