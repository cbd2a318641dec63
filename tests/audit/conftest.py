"""A small real LFW subset with demographic labels: 3 images each of the first 27 race-labelled people
with at least 2 images (81 images), embedded once per session with YuNet + MobileFaceNet."""
from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def labels_subset(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    with (shared / "data" / "lfw_demographics" / "labels.csv").open(newline="") as stream:
        rows = [r for r in csv.DictReader(stream) if r["race_usc_single"]]
    people: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        people[row["identity"]].append(row)
    chosen = [row for group in people.values() if len(group) >= 2 for row in group[:3]][:81]
    path = tmp_path_factory.mktemp("audit") / "labels_subset.csv"
    with path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(chosen)
    return path


@pytest.fixture(scope="session")
def audit_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audit_cache") / "embeddings.sqlite"
