"""Throughput of ``facetrust batch run`` on Ray vs the single process and ``facetrust analyze --workers 2``, same run.

Every row does the same job on the fixed LFW-a image set of ``bench/bench_analyze.py`` (every
image of the pairs of the first ``--folds`` folds; fold 1 = 807 images): decode, detect, 5
landmarks, align and embed every face, with one preset (default ``balanced``).

    python bench/bench_batch.py                     # the table in docs/distributed.md
    python bench/bench_batch.py --images 100        # quick run

Rows:

* ``single process`` — ``analyze_paths(paths, config, workers=1)`` in this process (all cores
  for ONNX), analyzer built and models loaded inside the timed region;
* ``analyze --workers 2`` — ``analyze_paths(..., workers=2)``, the library call behind
  ``facetrust analyze --workers 2`` (pool start and each worker's models inside the timed region);
* ``Ray, W worker(s)`` — ``run_batch`` on a local Ray instance started *before* the timed region
  (its start-up is its own column), W actors with cores/W ONNX threads each, into a fresh output
  folder; the timed region holds Ray Data's planning, the actors' start and model loads, and the
  Parquet writes, so these rows pay what a real job pays once it has a cluster.

"overhead ms/image" is (row's seconds - single process seconds) / images: the cost per image of
getting the same work done that way, on this image set (fixed start-up costs spread over it).
Timing on a shared machine is only as good as the machine is idle: each row records the
1-minute load average at its start and end. The table goes to stdout and, as markdown, to
``bench/results/bench_batch.md``.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_analyze import load_average, read_pairs, unique_images  # noqa: E402
from common import LFW_PAIRS, RESULTS  # noqa: E402

from facetrust.analyzer import AnalyzerConfig  # noqa: E402
from facetrust.batch import run_batch  # noqa: E402
from facetrust.batch.cluster import connect, shutdown  # noqa: E402
from facetrust.parallel import analyze_paths  # noqa: E402


@dataclass
class Row:
    name: str
    seconds: float
    images: int
    faces: int
    load: tuple[float, float]
    start_s: float | None = None  # Ray's own start-up, outside ``seconds``

    @property
    def rate(self) -> float:
        return self.images / self.seconds


def run_local(name: str, paths: list[Path], config: AnalyzerConfig, workers: int) -> Row:
    load = load_average()
    start = time.perf_counter()
    faces = sum(len(r.faces) for r in analyze_paths(paths, config, embed=True, workers=workers))
    return Row(name, time.perf_counter() - start, len(paths), faces, (load, load_average()))


def run_ray(paths: list[Path], config: AnalyzerConfig, workers: int, partition_size: int) -> Row:
    load = load_average()
    start = time.perf_counter()
    connect(None, num_cpus=os.cpu_count())
    started = time.perf_counter() - start
    out = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        start = time.perf_counter()
        report = run_batch([str(p) for p in paths], out, config, workers=workers, partition_size=partition_size)
        seconds = time.perf_counter() - start
    finally:
        shutdown()
        shutil.rmtree(out, ignore_errors=True)
    return Row(f"Ray, {workers} worker(s)", seconds, report.images, report.faces, (load, load_average()), started)


def table(rows: list[Row], base: Row) -> str:
    lines = ["| run | images/s | seconds | x single process | overhead ms/image | Ray start s | faces | load avg (start-end) |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for row in rows:
        overhead = 1000.0 * (row.seconds - base.seconds) / row.images
        start = f"{row.start_s:.1f}" if row.start_s is not None else ""
        lines.append(f"| {row.name} | {row.rate:.1f} | {row.seconds:.1f} | {row.rate / base.rate:.2f} | "
                     f"{overhead:+.1f} | {start} | {row.faces} | {row.load[0]:.1f}-{row.load[1]:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", type=int, default=1, help="use the images of the first K folds' pairs (default 1)")
    parser.add_argument("--images", type=int, default=None, help="keep only the first N images (quick runs)")
    parser.add_argument("--preset", default="balanced", help="facetrust preset (default balanced)")
    parser.add_argument("--partition-size", type=int, default=64, help="images per Ray partition (default 64)")
    args = parser.parse_args()
    config = AnalyzerConfig(preset=args.preset)
    paths = unique_images(read_pairs(LFW_PAIRS, args.folds))[: args.images]
    for path in paths:  # warm the page cache so no row pays for cold disk reads
        path.read_bytes()
    print(f"{len(paths)} images, preset {args.preset}, {os.cpu_count()} CPUs, load {load_average():.2f}",
          file=sys.stderr)
    rows = []
    for name, workers in (("single process", 1), ("analyze --workers 2", 2)):
        print(f"{name} ...", file=sys.stderr)
        rows.append(run_local(name, paths, config, workers))
    for workers in (1, 2):
        print(f"Ray, {workers} worker(s) ...", file=sys.stderr)
        rows.append(run_ray(paths, config, workers, args.partition_size))
    text = (f"{len(paths)} LFW-a images (folds 1..{args.folds}), preset {args.preset}, {os.cpu_count()} CPUs, "
            f"Ray partitions of {args.partition_size}\n\n" + table(rows, rows[0]))
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_batch.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
