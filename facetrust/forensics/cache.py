"""On-disk cache of forgery scores, so an interrupted evaluation resumes where it stopped.

Keyed by (file content sha256, scoring settings, detector and its model files' sha256);
one row per (item, detector), committed as soon as it is computed. SQLite in WAL mode.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from facetrust.io.sqlite_cache import SqliteCache, cache_file

_SCHEMA = "CREATE TABLE IF NOT EXISTS scores (key TEXT PRIMARY KEY, value TEXT NOT NULL)"


def default_score_cache() -> Path:
    return cache_file("forgery_scores.sqlite")


def detector_version(name: str) -> str:
    """Registry name plus the sha256 prefixes of the model files it loads (retrained model = new key)."""
    from facetrust.forensics import FORGERY_DETECTORS
    from facetrust.zoo.manifest import get_model

    from facetrust.forensics.sbi import MODEL_SHA256

    if name in ("sbi", "fusion"):
        return f"{name}@{MODEL_SHA256[:16]}"
    zoo = getattr(FORGERY_DETECTORS.get_class(name), "zoo_name", None)
    return name if zoo is None else name + "@" + ",".join(f.sha256[:16] for f in get_model(zoo).files)


class ScoreCache(SqliteCache):
    """``path=None``: an in-memory cache (nothing kept after the run)."""

    def __init__(self, path: Path | None) -> None:
        super().__init__(path, _SCHEMA)

    def get(self, key: str) -> Any:
        row = self._db.execute("SELECT value FROM scores WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, value: Any) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO scores (key, value) VALUES (?, ?)", (key, json.dumps(value)))
