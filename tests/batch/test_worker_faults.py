"""Workers that fail on the cluster: a check plugin whose model file is missing there raises its
own ModelError in the driver (as a single process would), a plugin's bug fails the job naming
its exception, and a worker process that keeps crashing on an input fails the job after a
bounded number of restarts, in one CLI line. The
faults are real: facetrust's ONNX loader on a missing file, and a segmentation fault
(tests/batch/faulty_checks.py, loaded through the ``module:Class`` check extension point)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from facetrust.analyzer import AnalyzerConfig
from facetrust.batch import run_batch
from facetrust.batch.errors import BatchError
from facetrust.errors import ModelError
from facetrust.io.image import load_image

ONNX_FILE_CHECK = "faulty_checks:OnnxFileCheck"
SEGFAULT_CHECK = "faulty_checks:SegfaultCheck"
BUGGY_CHECK = "faulty_checks:BuggyCheck"


def test_a_model_missing_on_the_workers_raises_its_model_error(ray_cluster: str, batch_images: Path,
                                                               tmp_path: Path) -> None:
    missing = tmp_path / "not-copied-to-the-workers.onnx"
    config = AnalyzerConfig(checks=(ONNX_FILE_CHECK,), check_options={ONNX_FILE_CHECK: {"model_file": str(missing)}})
    with pytest.raises(ModelError) as raised:
        run_batch([str(batch_images / "Abdullah")], tmp_path / "out", config, address=ray_cluster, workers=1)
    assert type(raised.value) is ModelError  # the error itself, not Ray's wrapper around it
    message = str(raised.value)
    assert message.startswith(f"{missing}: cannot load ONNX model (") and "\n" not in message
    assert not list((tmp_path / "out").glob("part-*"))


def test_a_plugin_bug_fails_the_job_naming_the_exception(ray_cluster: str, batch_images: Path,
                                                         tmp_path: Path) -> None:
    config = AnalyzerConfig(checks=(BUGGY_CHECK,))
    with pytest.raises(BatchError) as raised:
        run_batch([str(batch_images / "Abdullah")], tmp_path / "out", config, address=ray_cluster, workers=1)
    assert str(raised.value) == "the Ray job failed: IndexError: list index out of range"


def test_a_worker_that_keeps_crashing_fails_the_job_after_bounded_restarts(ray_cluster: str, batch_images: Path,
                                                                            tmp_path: Path) -> None:
    crashing = batch_images / "Barack_Obama" / "obama.jpg"
    width = load_image(crashing).shape[1]
    log = tmp_path / "crashes.txt"
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "facetrust.cli.main", "batch", "run", str(batch_images / "Barack_Obama"),
         str(batch_images / "Abdullah"), "--out", str(out), "--address", ray_cluster, "--workers", "1",
         "--partition-size", "3", "--restarts", "1", "--check", SEGFAULT_CHECK,
         "--check-opt", f"{SEGFAULT_CHECK}.crash_width={width}", "--check-opt", f"{SEGFAULT_CHECK}.log={log}"],
        capture_output=True, text=True, env=os.environ.copy(), timeout=600)
    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: a batch worker process died (pid ") and "Traceback" not in done.stderr
    assert "at most 1 time(s)" in last and last.endswith(f"the partitions finished so far stay in {out}")
    crashes = log.read_text().split()
    assert len(crashes) == 2 and len(set(crashes)) == 2  # the first try and one restart, each its own process
    assert "part-000001.parquet" not in {p.name for p in out.iterdir()}  # obama's partition: never written
    assert not list(out.glob(".part-*"))
