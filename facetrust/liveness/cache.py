"""On-disk cache of per-image liveness results, so an interrupted evaluation resumes.

Keyed by (configuration key, image content sha256); the configuration key covers
everything that changes a result: liveness model, detector, threshold and
calibration. Each result is committed as soon as it is computed (SQLite, WAL
mode), so a run stopped at image 900 of 1000 redoes only the last 100.
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from facetrust.io.sqlite_cache import SqliteCache, cache_file, content_hash

_SCHEMA = """
CREATE TABLE IF NOT EXISTS liveness (
    config_key TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    result TEXT NOT NULL,           -- JSON: status, score, model_scores, reason
    PRIMARY KEY (config_key, content_sha256)
)
"""


def config_key(checker: Any) -> str:
    calibration = None if checker.calibration is None else checker.calibration.to_dict()
    raw = json.dumps([checker.name, checker.detector_name, checker.threshold, calibration], sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


__all__ = ["LivenessCache", "config_key", "content_hash"]


class LivenessCache(SqliteCache):
    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        super().__init__(path or cache_file("liveness.sqlite"), _SCHEMA)

    def get(self, key: str, digest: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT result FROM liveness WHERE config_key = ? AND content_sha256 = ?",
                               (key, digest)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, digest: str, result: dict[str, Any]) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO liveness VALUES (?, ?, ?)", (key, digest, json.dumps(result)))
