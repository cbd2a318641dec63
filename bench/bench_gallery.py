"""Gallery (1:N) speed, memory and recall at 10k / 100k / 1M identities, against brute-force numpy.

The gallery holds N identities with one template each: 1,000 **real** LFW
identities (the first photo of each of the first 1,000 people with 2+ photos,
dlib-hog + dlib-resnet embeddings) planted among N - 1,000 **synthetic** unit
vectors. The probes are the *second* photos of the 1,000 planted people.

Synthetic vectors (``--distractors``): ``face-like`` (default) draws from a
Gaussian with the mean and covariance of all 13k LFW embeddings, then
normalises — their similarity to real faces has the same mean, spread and
1e-3 tail as real impostor pairs (printed at the start), so they compete with
the true match the way other people's faces would; ``uniform`` draws
isotropic unit vectors (far from every face: an easy case).

Rows per size:

* ``facetrust`` — ``Gallery`` on the embedded backend (SQLite + FAISS, default
  ``IndexConfig``: exact below 50k templates, IVF-SQ8 with exact re-scoring
  above). Enrolment = ``enroll_many`` (batches of 10k, one transaction each);
  build = ``flush()`` (trains the IVF index and writes it); then the gallery is
  closed and reopened (load time) and searched through the public API
  (``search_embedding`` / ``search_embeddings``, k=1: index search, SQLite
  fetch of candidates, exact re-scoring, fusion).
* ``numpy`` — the float32 matrix of all N vectors in RAM: ``X @ q`` and
  ``argmax`` (batch 64: ``Q @ X.T``), what a user would write instead.

Recall@1 = share of probes whose top-1 equals exact search's top-1 over all
N vectors; rank-1 = share of probes whose top-1 is their own identity.
Memory: facetrust = resident-set growth of opening the gallery and running
the first search, measured in a fresh process that has already imported FAISS
(the loaded index and SQLite's cache), and the index file's size;
numpy = the matrix's bytes. Latency p50/p99 over the probes (batch 1) and over
batches of 64 probes (per batch).

    python bench/bench_gallery.py                          # 10k, 100k, 1M
    python bench/bench_gallery.py --sizes 10000 --queries 200   # quick
    python bench/bench_gallery.py --distractors uniform --sizes 1000000

LFW embeddings come from ``bench/results/lfw_embeddings_dlib-hog_dlib-resnet.npz``
(written by ``bench/calibrate_thresholds.py``; computed here if missing).
The table goes to stdout and to ``bench/results/bench_gallery.md``.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common import RESULTS

PLANTED = 1000


@dataclass
class Row:
    size: int
    tool: str
    enrol_per_s: float | None
    build_s: float | None
    open_s: float | None
    memory_mb: float
    index_mb: float | None
    p50_1: float
    p99_1: float
    p50_64: float
    p99_64: float
    recall: float
    rank1: float
    detail: str = ""


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


_MEMORY_PROBE = """
import sys
import numpy as np
from facetrust.gallery import Gallery
def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * {page} / 2**20
probe = np.frombuffer(bytes.fromhex(sys.argv[2]), dtype=np.float32)
import faiss  # noqa: F401  (library code is not the gallery's memory)
before = rss()
gallery = Gallery.open(sys.argv[1], readonly=True)
gallery.search_embedding(probe, k=1)
print(rss() - before)
"""


def search_memory_mb(path: Path, probe: np.ndarray) -> float:
    """Resident-set growth of opening the gallery and running one search, in a fresh process
    (in this one, memory freed by the build would be reused and hide the cost)."""
    code = _MEMORY_PROBE.format(page=os.sysconf("SC_PAGE_SIZE"))
    out = subprocess.run([sys.executable, "-c", code, str(path), probe.astype(np.float32).tobytes().hex()],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def load_lfw() -> tuple[np.ndarray, np.ndarray]:
    cache = RESULTS / "lfw_embeddings_dlib-hog_dlib-resnet.npz"
    if cache.exists():
        data = np.load(cache)
        return data["vectors"].astype(np.float32), data["labels"]
    from calibrate_thresholds import embed_lfw

    from facetrust.analyzer import AnalyzerConfig

    vectors, labels, _ = embed_lfw(AnalyzerConfig(), workers=os.cpu_count() or 1)
    return vectors.astype(np.float32), labels


def planted_pairs(vectors: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(templates, probes): first and second photo of the first PLANTED people with 2+ photos."""
    first: dict[int, int] = {}
    pairs: list[tuple[int, int]] = []
    for i, label in enumerate(labels.tolist()):
        if label not in first:
            first[label] = i
        elif first[label] >= 0:
            pairs.append((first[label], i))
            first[label] = -1  # one probe per person
            if len(pairs) == PLANTED:
                break
    return vectors[[a for a, _ in pairs]], vectors[[b for _, b in pairs]]


def distractors(n: int, kind: str, lfw: np.ndarray, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((n, lfw.shape[1]), dtype=np.float32)
    mean, cov = lfw.mean(axis=0), np.cov(lfw.T)
    for start in range(0, n, 100_000):
        count = min(100_000, n - start)
        block = (rng.multivariate_normal(mean, cov, size=count) if kind == "face-like"
                 else rng.standard_normal((count, lfw.shape[1])))
        out[start:start + count] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def percentiles(samples: list[float]) -> tuple[float, float]:
    array = np.array(samples) * 1000.0
    return float(np.percentile(array, 50)), float(np.percentile(array, 99))


def bench_gallery(size: int, matrix: np.ndarray, probes: np.ndarray, exact_top: np.ndarray, queries: int,
                  workdir: Path) -> Row:
    from facetrust.gallery import EnrollRecord, Gallery

    path = workdir / f"bench_{size}.gallery"
    records = (EnrollRecord(f"t{i}", matrix[i]) for i in range(size))
    with Gallery.create(path) as gallery:
        started = time.perf_counter()
        gallery.enroll_many(records, batch_size=10_000)
        enrol_s = time.perf_counter() - started
        started = time.perf_counter()
        gallery.flush()
        build_s = time.perf_counter() - started
    memory = search_memory_mb(path, probes[0])
    started = time.perf_counter()
    gallery = Gallery.open(path, readonly=True)
    gallery.search_embedding(probes[0], k=1)
    open_s = time.perf_counter() - started
    stats = gallery.stats()
    try:
        single, top = [], []
        for probe in probes[:queries]:
            started = time.perf_counter()
            result = gallery.search_embedding(probe, k=1)
            single.append(time.perf_counter() - started)
            top.append(int(result.matches[0].identity_id[1:]))
        batched = []
        for start in range(0, queries - 63, 64):
            started = time.perf_counter()
            gallery.search_embeddings(probes[start:start + 64], k=1)
            batched.append(time.perf_counter() - started)
    finally:
        gallery.close()
    index = stats["index"]
    detail = index["kind"] + (f" nlist={index['nlist']} nprobe={index['nprobe']}" if index["kind"] == "ivf" else "")
    top_arr = np.array(top)
    return Row(size, "facetrust", size / enrol_s, build_s, open_s, memory, stats["files_bytes"]["index"] / 2**20,
               *percentiles(single), *percentiles(batched), float((top_arr == exact_top[:queries]).mean()),
               float((top_arr == np.arange(queries)).mean()), detail)


def nprobe_sweep(path: Path, probes: np.ndarray, exact_top: np.ndarray, queries: int,
                 values: list[int]) -> list[tuple[int, float, float, float]]:
    """(nprobe, recall@1, p50 ms, p99 ms) of single queries for other ``nprobe`` settings."""
    from facetrust.gallery import Gallery, IndexConfig

    out = []
    for nprobe in values:
        with Gallery.open(path, readonly=True, index=IndexConfig(nprobe=nprobe)) as gallery:
            gallery.search_embedding(probes[0], k=1)
            times, top = [], []
            for probe in probes[:queries]:
                started = time.perf_counter()
                top.append(int(gallery.search_embedding(probe, k=1).matches[0].identity_id[1:]))
                times.append(time.perf_counter() - started)
        out.append((nprobe, float((np.array(top) == exact_top[:queries]).mean()), *percentiles(times)))
        print("nprobe", out[-1], flush=True)
    return out


def bench_numpy(size: int, matrix: np.ndarray, probes: np.ndarray, exact_top: np.ndarray, queries: int) -> Row:
    single_queries = min(queries, 200 if size >= 1_000_000 else queries)
    single = []
    for probe in probes[:single_queries]:
        started = time.perf_counter()
        int(np.argmax(matrix @ probe))
        single.append(time.perf_counter() - started)
    batched, top = [], []
    for start in range(0, queries - 63, 64):
        started = time.perf_counter()
        top.extend(np.argmax(probes[start:start + 64] @ matrix.T, axis=1).tolist())
        batched.append(time.perf_counter() - started)
    top_arr = np.array(top)
    n = len(top_arr)
    return Row(size, "numpy", None, None, None, matrix.nbytes / 2**20, None, *percentiles(single),
               *percentiles(batched), float((top_arr == exact_top[:n]).mean()),
               float((top_arr == np.arange(n)).mean()), f"batch-1 over {single_queries} probes")


def exact_top1(matrix: np.ndarray, probes: np.ndarray) -> np.ndarray:
    best = np.full(len(probes), -np.inf, dtype=np.float32)
    arg = np.zeros(len(probes), dtype=np.int64)
    for start in range(0, len(matrix), 200_000):
        scores = probes @ matrix[start:start + 200_000].T
        block = scores.argmax(axis=1)
        value = scores[np.arange(len(probes)), block]
        better = value > best
        best[better], arg[better] = value[better], block[better] + start
    return arg


def similarity_profile(lfw: np.ndarray, labels: np.ndarray, synthetic: np.ndarray) -> str:
    rng = np.random.default_rng(1)
    probes = rng.choice(len(lfw), 1000, replace=False)
    others = rng.choice(len(lfw), 5000, replace=False)
    real = (lfw[probes] @ lfw[others].T)[labels[probes][:, None] != labels[others][None, :]]
    fake = (lfw[probes] @ synthetic[:5000].T).ravel()
    describe = lambda s: f"mean {s.mean():.3f}, sd {s.std():.3f}, 99.9th pct {np.quantile(s, 0.999):.3f}"  # noqa: E731
    return f"real impostor pairs: {describe(real)}; real vs synthetic: {describe(fake)}"


def markdown(rows: list[Row], header: list[str]) -> str:
    lines = header + ["", "| N | tool | enrol /s | build s | open s | memory MB | index MB | p50 ms (1) | "
                      "p99 ms (1) | p50 ms (64) | p99 ms (64) | recall@1 | rank-1 | speed-up p50 (1) | notes |",
                      "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    fmt = lambda v, spec: "–" if v is None else format(v, spec)  # noqa: E731
    by_size: dict[int, dict[str, Row]] = {}
    for row in rows:
        by_size.setdefault(row.size, {})[row.tool] = row
    for row in rows:
        peer = by_size[row.size].get("numpy")
        ratio = f"{peer.p50_1 / row.p50_1:.1f}x" if peer and row.tool == "facetrust" else ""
        lines.append(f"| {row.size:,} | {row.tool} | {fmt(row.enrol_per_s, ',.0f')} | {fmt(row.build_s, '.1f')} | "
                     f"{fmt(row.open_s, '.2f')} | {row.memory_mb:,.0f} | {fmt(row.index_mb, ',.0f')} | "
                     f"{row.p50_1:.2f} | {row.p99_1:.2f} | {row.p50_64:.1f} | {row.p99_64:.1f} | {row.recall:.3f} | "
                     f"{row.rank1:.3f} | {ratio} | {row.detail} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=PLANTED, help="probes to time (at most 1000)")
    parser.add_argument("--distractors", choices=["face-like", "uniform"], default="face-like")
    parser.add_argument("--workdir", type=Path, default=None, help="where the galleries go (default: a temp dir)")
    parser.add_argument("--sweep", default="256,384,512,768",
                        help="nprobe values to also time at the largest size (IVF only; '' = none)")
    args = parser.parse_args()
    import faiss

    lfw, labels = load_lfw()
    templates, probes = planted_pairs(lfw, labels)
    queries = min(args.queries, len(probes))
    sizes = [int(s) for s in args.sizes.split(",")]
    synthetic = distractors(max(sizes) - PLANTED, args.distractors, lfw)
    load = os.getloadavg()
    header = [f"# Gallery benchmark ({args.distractors} distractors)", "",
              f"- {platform.processor() or platform.machine()}, {os.cpu_count()} cores; numpy {np.__version__}, "
              f"faiss {faiss.__version__}; load average at start {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}",
              f"- {len(probes)} planted LFW identities; {similarity_profile(lfw, labels, synthetic)}"]
    print("\n".join(header), flush=True)
    rows: list[Row] = []
    sweep: list[tuple[int, float, float, float]] = []
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_gallery_"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        for size in sizes:
            matrix = np.concatenate([templates, synthetic[:size - PLANTED]])
            exact = exact_top1(matrix, probes[:queries])
            for row in (bench_gallery(size, matrix, probes, exact, queries, workdir),
                        bench_numpy(size, matrix, probes, exact, queries)):
                rows.append(row)
                print(row, flush=True)
            if size == max(sizes) and args.sweep and rows[-2].detail.startswith("ivf"):
                sweep = nprobe_sweep(workdir / f"bench_{size}.gallery", probes, exact, queries,
                                     [int(v) for v in args.sweep.split(",")])
            for leftover in workdir.glob(f"bench_{size}.gallery*"):
                leftover.unlink()
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    load = os.getloadavg()
    header.append(f"- load average at end {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}")
    table = markdown(rows, header)
    if sweep:
        table += (f"\nIVF at N = {max(sizes):,}, single queries, other nprobe settings:\n\n"
                  "| nprobe | recall@1 | p50 ms | p99 ms |\n|---:|---:|---:|---:|\n")
        table += "".join(f"| {n} | {r:.3f} | {p50:.2f} | {p99:.2f} |\n" for n, r, p50, p99 in sweep)
    print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.distractors == "face-like" else f"_{args.distractors}"
    (RESULTS / f"bench_gallery{suffix}.md").write_text(table)


if __name__ == "__main__":
    main()
