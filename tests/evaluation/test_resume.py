"""An evaluation interrupted with Ctrl-C exits cleanly and the next run resumes from the cache."""
from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from facetrust.defaults import DEFAULT_DETECTOR, DEFAULT_RECOGNIZER
from facetrust.evaluation.lfw import read_lfw_pairs


def cached_rows(path: Path) -> int:
    if not path.exists():
        return 0
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        try:
            return db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
        except sqlite3.OperationalError:  # table not created yet
            return 0


def test_interrupted_evaluation_resumes(shared: Path, tmp_path: Path):
    every = read_lfw_pairs(shared / "data" / "lfw_pairs.txt", shared / "data" / "lfw")
    pairs = every[:50] + every[300:350]  # fold 1: 50 same, 50 different
    csv_file = tmp_path / "pairs.csv"
    csv_file.write_text("".join(f"{p.path_a},{p.path_b},{int(p.same)}\n" for p in pairs))
    images = len({p.path_a for p in pairs} | {p.path_b for p in pairs})
    assert images > 64  # more than one commit batch
    cache = tmp_path / "cache.sqlite"
    command = [sys.executable, "-m", "facetrust.cli.main", "eval", "pairs", "--csv", str(csv_file),
               "--cache", str(cache), "--workers", "1", "--json"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while cached_rows(cache) == 0 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    committed = cached_rows(cache)
    assert 0 < committed < images

    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout)["metrics"][f"{DEFAULT_DETECTOR}+{DEFAULT_RECOGNIZER}"]
    assert metrics["images"] == images
    assert metrics["images_embedded"] == images - committed
