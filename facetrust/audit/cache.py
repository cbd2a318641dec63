"""On-disk cache of the robustness audits: clean detections, perturbed-probe embeddings and the liveness
and forgery checks' decisions on perturbed images, so an
interrupted audit resumes where it stopped and a rerun (another subset, another report) costs only the
matching.

One SQLite file (WAL mode), keyed by the image's content sha256 and a configuration key (detector and
recognizer model files, see ``EvalModel.cache_key``) and, for embeddings, the condition
(``"clean"`` or ``"blur:4"``). Rows are committed per batch: a run stopped at batch 90 of 100 redoes
only the last 10.
"""
from __future__ import annotations

import json
import os
from typing import Iterable

import numpy as np

from facetrust.io.sqlite_cache import SqliteCache, cache_file
from facetrust.types import Detection

_SCHEMA = """
CREATE TABLE IF NOT EXISTS detections (
    detector_key TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    detection TEXT,                 -- JSON box/score/landmarks/fallback of the selected face; NULL: none
    PRIMARY KEY (detector_key, content_sha256)
);
CREATE TABLE IF NOT EXISTS perturbed_embeddings (
    model_key TEXT NOT NULL,
    condition TEXT NOT NULL,        -- "clean" or "KIND:VALUE"
    content_sha256 TEXT NOT NULL,
    vector BLOB NOT NULL,           -- float32
    PRIMARY KEY (model_key, condition, content_sha256)
);
CREATE TABLE IF NOT EXISTS check_results (
    check_key TEXT NOT NULL,
    condition TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    status TEXT NOT NULL,           -- the check's decision, or "unavailable"
    score REAL,                     -- NULL when the check gave none
    PRIMARY KEY (check_key, condition, content_sha256)
)
"""


def _to_json(detection: Detection | None) -> str | None:
    if detection is None:
        return None
    landmarks = None if detection.landmarks is None else np.asarray(detection.landmarks, dtype=float).tolist()
    return json.dumps({"box": list(map(float, detection.box)), "score": float(detection.score),
                       "landmarks": landmarks, "fallback": bool(detection.fallback)})


def _from_json(text: str | None) -> Detection | None:
    if text is None:
        return None
    data = json.loads(text)
    landmarks = None if data["landmarks"] is None else np.asarray(data["landmarks"], dtype=np.float32)
    return Detection(tuple(data["box"]), data["score"], landmarks, data["fallback"])


def _chunks(items: list[str], size: int = 500) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class RobustnessCache(SqliteCache):
    """``path=None``: the default file beside the other caches (``robustness.sqlite``)."""

    def __init__(self, path: str | os.PathLike[str] | None = None, in_memory: bool = False) -> None:
        super().__init__(None if in_memory else (path or cache_file("robustness.sqlite")), "SELECT 1")
        self._db.executescript(_SCHEMA)

    def get_detections(self, key: str, hashes: Iterable[str]) -> dict[str, Detection | None]:
        found: dict[str, Detection | None] = {}
        for chunk in _chunks(list(dict.fromkeys(hashes))):
            rows = self._db.execute(f"SELECT content_sha256, detection FROM detections WHERE detector_key = ? "
                                    f"AND content_sha256 IN ({','.join('?' * len(chunk))})", [key, *chunk])
            found.update((digest, _from_json(text)) for digest, text in rows)
        return found

    def put_detections(self, key: str, items: dict[str, Detection | None]) -> None:
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO detections VALUES (?, ?, ?)",
                                 [(key, digest, _to_json(d)) for digest, d in items.items()])

    def get_vectors(self, key: str, condition: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for chunk in _chunks(list(dict.fromkeys(hashes))):
            rows = self._db.execute(f"SELECT content_sha256, vector FROM perturbed_embeddings WHERE model_key = ? "
                                    f"AND condition = ? AND content_sha256 IN ({','.join('?' * len(chunk))})",
                                    [key, condition, *chunk])
            found.update((digest, np.frombuffer(blob, dtype=np.float32).copy()) for digest, blob in rows)
        return found

    def put_vectors(self, key: str, condition: str, items: dict[str, np.ndarray]) -> None:
        with self._db:  # one transaction per batch: all or nothing
            self._db.executemany("INSERT OR REPLACE INTO perturbed_embeddings VALUES (?, ?, ?, ?)",
                                 [(key, condition, digest, np.asarray(v, dtype=np.float32).tobytes())
                                  for digest, v in items.items()])

    def get_check_results(self, key: str, condition: str, hashes: Iterable[str]) -> dict[str, tuple[str, float | None]]:
        found: dict[str, tuple[str, float | None]] = {}
        for chunk in _chunks(list(dict.fromkeys(hashes))):
            rows = self._db.execute(f"SELECT content_sha256, status, score FROM check_results WHERE check_key = ? "
                                    f"AND condition = ? AND content_sha256 IN ({','.join('?' * len(chunk))})",
                                    [key, condition, *chunk])
            found.update((digest, (status, score)) for digest, status, score in rows)
        return found

    def put_check_results(self, key: str, condition: str, items: dict[str, tuple[str, float | None]]) -> None:
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO check_results VALUES (?, ?, ?, ?, ?)",
                                 [(key, condition, digest, status, None if score is None else float(score))
                                  for digest, (status, score) in items.items()])
