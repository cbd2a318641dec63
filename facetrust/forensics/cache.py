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
    digests = weights_sha256(name)
    return name + "@" + ",".join(d[:16] for d in digests) if digests else name


def weights_sha256(name: str) -> list[str]:
    """sha256 of every weight file behind a registered detector, as its class declares them:
    its zoo models' files, weights shipped in the package, and those of its default members."""
    from facetrust.forensics import FORGERY_DETECTORS
    from facetrust.zoo.manifest import get_model

    cls = FORGERY_DETECTORS.get_class(name)
    digests = [f.sha256 for zoo in cls.zoo_models for f in get_model(zoo).files]
    digests += getattr(cls, "packaged_sha256", ())
    for member in getattr(cls, "default_members", ()):
        digests += weights_sha256(member)
    return digests


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
