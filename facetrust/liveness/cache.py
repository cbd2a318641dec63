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
import sqlite3
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS liveness (
    config_key TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    result TEXT NOT NULL,           -- JSON: status, score, model_scores, reason
    PRIMARY KEY (config_key, content_sha256)
)
"""


def default_cache_path() -> Path:
    base = os.environ.get("FACETRUST_CACHE_DIR")
    root = Path(base).expanduser().parent if base else Path.home() / ".cache" / "facetrust"
    return root / "liveness.sqlite"


def config_key(checker: Any) -> str:
    calibration = None if checker.calibration is None else checker.calibration.to_dict()
    raw = json.dumps([checker.name, checker.detector_name, checker.threshold, calibration], sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def content_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class LivenessCache:
    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path else default_cache_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        self._db.commit()

    def get(self, key: str, digest: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT result FROM liveness WHERE config_key = ? AND content_sha256 = ?",
                               (key, digest)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, digest: str, result: dict[str, Any]) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO liveness VALUES (?, ?, ?)", (key, digest, json.dumps(result)))

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "LivenessCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
