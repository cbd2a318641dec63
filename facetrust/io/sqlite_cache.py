"""What the on-disk result caches share (embeddings, liveness results, forgery scores).

Each is one SQLite file in WAL mode (safe for one writer and concurrent readers), keyed
partly by the image's content sha256, so a renamed file is still a hit and an edited one
is not. The files live beside the model cache, under ``FACETRUST_CACHE_DIR``'s parent
(default ``~/.cache/facetrust``).
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path
from typing import Self


def cache_file(name: str) -> Path:
    """Default location of the cache file ``name``."""
    base = os.environ.get("FACETRUST_CACHE_DIR")
    root = Path(base).expanduser().parent if base else Path.home() / ".cache" / "facetrust"
    return root / name


def content_hash(path: str | os.PathLike[str]) -> str:
    """sha256 of the file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class SqliteCache:
    """An open cache file with ``schema`` applied; ``path=None`` keeps it in memory only."""

    def __init__(self, path: str | os.PathLike[str] | None, schema: str) -> None:
        self.path = None if path is None else Path(path)
        if self.path is None:
            self._db = sqlite3.connect(":memory:")
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path)
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(schema)
        self._db.commit()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
