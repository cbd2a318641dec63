"""On-disk cache of forgery scores, so an interrupted evaluation resumes where it stopped.

Keyed by (file content sha256, scoring settings, detector and its model files' sha256);
one row per (item, detector), committed as soon as it is computed. SQLite in WAL mode.
"""
from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

_SCHEMA = "CREATE TABLE IF NOT EXISTS scores (key TEXT PRIMARY KEY, value TEXT NOT NULL)"


def default_score_cache() -> Path:
    base = os.environ.get("FACETRUST_CACHE_DIR")
    root = Path(base).expanduser().parent if base else Path.home() / ".cache" / "facetrust"
    return root / "forgery_scores.sqlite"


def detector_version(name: str) -> str:
    """Registry name plus the sha256 prefixes of the model files it loads (retrained model = new key)."""
    from facetrust.forensics import FORGERY_DETECTORS
    from facetrust.zoo.manifest import get_model

    from facetrust.forensics.sbi import MODEL_SHA256

    if name in ("sbi", "fusion"):
        return f"{name}@{MODEL_SHA256[:16]}"
    zoo = getattr(FORGERY_DETECTORS.get_class(name), "zoo_name", None)
    return name if zoo is None else name + "@" + ",".join(f.sha256[:16] for f in get_model(zoo).files)


class ScoreCache:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path))
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)

    def get(self, key: str) -> Any:
        if self._db is None:
            return None
        row = self._db.execute("SELECT value FROM scores WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, value: Any) -> None:
        if self._db is not None:
            self._db.execute("INSERT OR REPLACE INTO scores (key, value) VALUES (?, ?)", (key, json.dumps(value)))
            self._db.commit()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> "ScoreCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
