"""Gallery (1:N) search at up to 1M identities: recall against exact search, latency, build time,
memory and batch throughput of each index kind, through the public ``Gallery`` API.

    python bench/bench_gallery.py                                  # 1M, EdgeFace-XS (512-d): numpy, pq, ivfpq
    python bench/bench_gallery.py --sizes 100000 --queries 300     # quick
    python bench/bench_gallery.py --recognizer dlib-resnet         # 128-d rows
    python bench/bench_gallery.py --kinds pq,ivfpq --ivfpq-nprobe 256,default,512 --refine 64,default
    python bench/bench_gallery.py --kinds hnsw --ef-search 32,64,128 --hnsw-m 32 --ef-construction 64
    python bench/bench_gallery.py --kinds ivfpq --protection slerp   # protected templates (docs/privacy.md)
    python bench/bench_gallery.py --kinds ivfpq --protection none,slerp   # side by side, queries interleaved

With every option left out, each kind runs with the gallery's defaults (``default`` in a list).

**Data.** The gallery holds N identities with one template each: 1,000 *real* LFW identities
(the first photo of each of the first 1,000 people with 2+ photos) planted among N - 1,000
*face-like synthetic* vectors: a Gaussian with the mean and covariance of all 13k LFW
embeddings of the same recognizer, normalised (their similarity to real faces matches real
impostor pairs: printed at the start). Embeddings: YuNet + EdgeFace-XS (512-d, default) or
dlib-hog + dlib-resnet (128-d), from ``bench/results/lfw_embeddings_<detector>_<recognizer>.npz``
(computed through the evaluation's embedding cache if missing).

**Queries** (real faces, none of them in the gallery): *mated* = the second photo of each
planted person (1,000); *non-mated* = photos of 1,000 LFW people with one photo only (their
top-1 is some distractor: the hardest case for an approximate index, and one that an
open-set threshold rejects anyway).

**Measures.** recall@1 = share of queries whose top-1 equals exact search's top-1 over all N
vectors (mated and non-mated separately); rank-1 = mated queries whose top-1 is their own
identity. p50/p99 ms = one query at a time through ``Gallery.search_embedding`` (k=1: index
search, SQLite fetch of the candidates, exact re-scoring, fusion), mated queries; the gallery
searches single queries with one FAISS thread. Every kind is built first (each on its own copy
of the gallery), then each query goes through every kind and setting in turn, so a shared
machine's load changes weigh on all rows alike. Batch q/s = ``search_embeddings`` of all
queries in batches of 256, with 1 and with 2 FAISS threads. Build s = ``reindex()`` (train,
add, write the index file). Memory MB = resident-set growth of opening the gallery and
running one search in a fresh process that has imported FAISS; index MB = the index file.
The ``numpy`` row is the float32 matrix in RAM: ``X @ q`` and ``argmax``.

**Protected** (``--protection slerp|biohash``): the gallery is created with ``protection=`` under a
fresh key (the recognizer's calibrated parameters), the same rows and queries go in as embeddings
and are protected at the gallery's boundary; exact search, recall@1 and the numpy row are computed
on the protected rows and queries (recall@1 = agreement with exact *protected* search); rank-1 is
still the mate's identity. A top-1 whose score equals exact search's best score counts as agreeing
(biohash scores take only bits + 1 values, so exact search has ties, which an index may break
otherwise). A comma-separated list (``none,slerp``: ``none`` = unprotected) builds one gallery per
entry from the same rows, under one key, and sends each query through all of them in turn, so the
machine's load weighs on protected and unprotected rows alike (the side-by-side comparison).

The table goes to stdout and to ``bench/results/bench_gallery_<recognizer>_<N>_<kinds>.md`` (+ ``.json``);
the load average is printed at the start, per row and at the end (the machine is shared).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from common import RESULTS

PLANTED = 1000
FLAT_QUERIES = 200
DETECTOR_OF = {"edgeface-xs": "yunet", "dlib-resnet": "dlib-hog"}


@dataclass
class Row:
    size: int
    kind: str
    setting: str
    build_s: float | None
    memory_mb: float | None
    index_mb: float | None
    p50_ms: float
    p99_ms: float
    recall_mated: float
    recall_nonmated: float
    rank1: float
    batch_qps_1t: float
    batch_qps_2t: float
    load: float

    def line(self) -> str:
        fmt = lambda v, spec: "–" if v is None or v != v else format(v, spec)  # noqa: E731
        return (f"| {self.size:,} | {self.kind} | {self.setting} | {fmt(self.build_s, '.0f')} | "
                f"{fmt(self.memory_mb, ',.0f')} | {fmt(self.index_mb, ',.0f')} | {self.p50_ms:.2f} | "
                f"{self.p99_ms:.2f} | "
                f"{self.recall_mated:.3f} | {fmt(self.recall_nonmated, '.3f')} | {self.rank1:.3f} | "
                f"{fmt(self.batch_qps_1t, ',.0f')} | {fmt(self.batch_qps_2t, ',.0f')} | {self.load:.1f} |")


HEADER = ("| N | index | setting | build s | memory MB | index MB | p50 ms (1) | p99 ms (1) | recall@1 mated | "
          "recall@1 non-mated | rank-1 | batch q/s 1 thread | batch q/s 2 threads | load |\n"
          "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")

_MEMORY_PROBE = """
import sys
import numpy as np
from facetrust.gallery import Gallery, IndexConfig
def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * {page} / 2**20
probe = np.frombuffer(bytes.fromhex(sys.argv[2]), dtype=np.float32)
import faiss  # noqa: F401  (library code is not the gallery's memory)
before = rss()
gallery = Gallery.open(sys.argv[1], readonly=True, index=IndexConfig.from_dict(__import__("json").loads(sys.argv[3])))
gallery.search_embedding(probe, k=1)
print(rss() - before)
"""


def load1() -> float:
    return os.getloadavg()[0]


def search_memory_mb(path: Path, probe: np.ndarray, config: dict) -> float:
    """Resident-set growth of opening the gallery and running one search, in a fresh process
    (in this one, memory freed by the build would be reused and hide the cost)."""
    code = _MEMORY_PROBE.format(page=os.sysconf("SC_PAGE_SIZE"))
    out = subprocess.run([sys.executable, "-c", code, str(path), probe.astype(np.float32).tobytes().hex(),
                          json.dumps(config)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def load_lfw(recognizer: str) -> tuple[np.ndarray, np.ndarray]:
    detector = DETECTOR_OF[recognizer]
    cache = RESULTS / f"lfw_embeddings_{detector}_{recognizer}.npz"
    if cache.exists():
        data = np.load(cache)
        return data["vectors"].astype(np.float32), data["labels"]
    from calibrate_thresholds import embed_lfw

    from facetrust.evaluation.embedder import EvalModel

    vectors, labels, _ = embed_lfw(EvalModel(detector, recognizer), workers=os.cpu_count() or 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    np.savez(cache, vectors=vectors, labels=labels)
    return vectors.astype(np.float32), labels


def queries_of(vectors: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(templates, mated probes, non-mated probes): first and second photo of the first PLANTED
    people with 2+ photos; one photo of each of the first PLANTED people with one photo."""
    counts = np.bincount(labels)
    first: dict[int, int] = {}
    pairs: list[tuple[int, int]] = []
    for i, label in enumerate(labels.tolist()):
        if counts[label] < 2:
            continue
        if label not in first:
            first[label] = i
        elif first[label] >= 0:
            pairs.append((first[label], i))
            first[label] = -1  # one probe per person
            if len(pairs) == PLANTED:
                break
    single = np.flatnonzero(counts[labels] == 1)[:PLANTED]
    return vectors[[a for a, _ in pairs]], vectors[[b for _, b in pairs]], vectors[single]


def distractors(n: int, lfw: np.ndarray, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((n, lfw.shape[1]), dtype=np.float32)
    mean, cov = lfw.mean(axis=0), np.cov(lfw.T)
    for start in range(0, n, 100_000):
        count = min(100_000, n - start)
        block = rng.multivariate_normal(mean, cov, size=count)
        out[start:start + count] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def exact_top1(matrix: np.ndarray, queries: np.ndarray) -> np.ndarray:
    best = np.full(len(queries), -np.inf, dtype=np.float32)
    arg = np.zeros(len(queries), dtype=np.int64)
    for start in range(0, len(matrix), 100_000):
        scores = queries @ matrix[start:start + 100_000].T
        block = scores.argmax(axis=1)
        value = scores[np.arange(len(queries)), block]
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


def percentiles(seconds: list[float]) -> tuple[float, float]:
    array = np.array(seconds) * 1000.0
    return float(np.percentile(array, 50)), float(np.percentile(array, 99))


def batch_qps(gallery, queries: np.ndarray, threads: int) -> float:
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads)
    try:
        started = time.perf_counter()
        for start in range(0, len(queries), 256):
            gallery.search_embeddings(queries[start:start + 256], k=1)
        return len(queries) / (time.perf_counter() - started)
    finally:
        faiss.omp_set_num_threads(before)


def interleaved_top1(galleries: list, queries: np.ndarray) -> tuple[list[np.ndarray], list[list[float]]]:
    """Each query through every gallery in turn (the machine is shared: load changes hit every row
    alike): per gallery, the top-1 template of each query and its search times."""
    found: list[list[int]] = [[] for _ in galleries]
    times: list[list[float]] = [[] for _ in galleries]
    for query in queries:
        for slot, gallery in enumerate(galleries):
            started = time.perf_counter()
            result = gallery.search_embedding(query, k=1)
            times[slot].append(time.perf_counter() - started)
            found[slot].append(int(result.matches[0].identity_id[1:]))
    return [np.array(f) for f in found], times


@dataclass
class Truth:
    """Exact search over one gallery's stored rows (protected or not): the top-1 of every query (mated
    first, then non-mated), with the stored rows and (protected) queries to score an index's answer."""

    exact: np.ndarray
    stored: np.ndarray
    probes: np.ndarray

    def agrees(self, found: np.ndarray, offset: int) -> np.ndarray:
        """Whether each found top-1 is exact search's, or scores the same (a tie)."""
        queries = self.probes[offset:offset + len(found)]
        exact = self.exact[offset:offset + len(found)]
        best = np.einsum("ij,ij->i", self.stored[exact], queries)
        return (found == exact) | (np.einsum("ij,ij->i", self.stored[found], queries) >= best - 1e-6)


@dataclass
class Built:
    """One kind's index, built on its own copy of the gallery."""

    kind: str
    path: Path
    sweep: list[tuple[str, dict]]
    build_s: float
    memory_mb: float
    index_mb: float
    label: str = ""
    truth: Truth | None = None


def build_kind(source: Path, kind: str, sweep: list[tuple[str, dict]], probe: np.ndarray) -> Built:
    """Copy the gallery, build the index of ``kind`` (timed) with the sweep's first setting."""
    from facetrust.gallery import Gallery, IndexConfig

    path = source.with_name(f"{source.stem}_{kind}.gallery")
    with sqlite3.connect(source) as db:  # what the write-ahead log holds goes into the file copied
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copyfile(source, path)
    with Gallery.open(path, index=IndexConfig.from_dict(sweep[0][1])) as gallery:
        started = time.perf_counter()
        gallery.reindex()
        build_s = time.perf_counter() - started
        print(f"  {kind}: built in {build_s:.0f} s (load {load1():.1f}): {gallery.stats()['index']}", flush=True)
    return Built(kind, path, sweep, build_s, search_memory_mb(path, probe, sweep[0][1]),
                 Path(f"{path}.index").stat().st_size / 2**20)


def measure_all(size: int, built: list[Built], mated: np.ndarray, nonmated: np.ndarray) -> list[Row]:
    """Every setting of every built kind (of every gallery), single queries interleaved; then batch
    throughput of each. Queries are embeddings: a protected gallery protects them at its boundary."""
    from facetrust.gallery import Gallery, IndexConfig

    slots = [(b, setting, config) for b in built for setting, config in b.sweep]
    galleries = [Gallery.open(b.path, readonly=True, index=IndexConfig.from_dict(config)) for b, _, config in slots]
    try:
        for gallery in galleries:
            gallery.search_embedding(mated[0], k=1)  # loads the index
        n = len(mated)
        exact_cut = [len(mated) if b.kind != "flat" else min(n, FLAT_QUERIES) for b, _, _ in slots]
        # Exact scans are slow at 1M: the flat rows see the first FLAT_QUERIES queries only.
        cut = min(exact_cut)
        head_mated, times_head = interleaved_top1(galleries, mated[:cut])
        rest = [i for i, c in enumerate(exact_cut) if c > cut]
        tail_mated, times_tail = interleaved_top1([galleries[i] for i in rest], mated[cut:])
        head_non, _ = interleaved_top1(galleries, nonmated[:cut])
        tail_non, _ = interleaved_top1([galleries[i] for i in rest], nonmated[cut:])
        rows = []
        for slot, ((b, setting, _), gallery) in enumerate(zip(slots, galleries)):
            found_mated, found_non, times = head_mated[slot], head_non[slot], times_head[slot]
            if slot in rest:
                j = rest.index(slot)
                found_mated = np.concatenate([found_mated, tail_mated[j]])
                found_non = np.concatenate([found_non, tail_non[j]])
                times = times + times_tail[j]
            m = len(found_mated)
            both = np.concatenate([mated[:m], nonmated[:m]])
            qps1, qps2 = batch_qps(gallery, both, 1), batch_qps(gallery, both, 2)
            first = setting == b.sweep[0][0]  # build time and memory belong to the index, shown once
            rows.append(Row(size, b.label or b.kind, setting, b.build_s if first else None, b.memory_mb if first else None,
                            b.index_mb if first else None, *percentiles(times),
                            float(b.truth.agrees(found_mated, 0).mean()), float(b.truth.agrees(found_non, n).mean()),
                            float((found_mated == np.arange(m)).mean()), qps1, qps2, load1()))
            print(rows[-1].line(), flush=True)
        return rows
    finally:
        for gallery in galleries:
            gallery.close()


def bench_numpy(size: int, matrix: np.ndarray, mated: np.ndarray, nonmated: np.ndarray, exact: np.ndarray,
                label: str = "numpy") -> Row:
    times, found = [], []
    for query in mated[:200]:
        started = time.perf_counter()
        found.append(int(np.argmax(matrix @ query)))
        times.append(time.perf_counter() - started)
    batch = np.concatenate([mated[:128], nonmated[:128]])
    started = time.perf_counter()
    exact_top1(matrix, batch)
    qps = len(batch) / (time.perf_counter() - started)
    n = len(found)
    return Row(size, label, f"X @ q, {n} mated queries", None, matrix.nbytes / 2**20, None, *percentiles(times),
               float((np.array(found) == exact[:n]).mean()), float("nan"),
               float((np.array(found) == np.arange(n)).mean()), float("nan"), qps, load1())


def sweeps(args: argparse.Namespace) -> dict[str, list[tuple[str, dict]]]:
    ivf = {"kind": "ivf", "nlist": args.nlist}
    hnsw = {"kind": "hnsw", "m": args.hnsw_m, "ef_construction": args.ef_construction}
    return {
        "flat": [("exact", {"kind": "flat"})],
        "pq": [(f"pq_m={args.pq_m or 'default'}, {r or 'default'} re-scored", {"kind": "pq", "pq_m": args.pq_m, "rescore": r})
               for r in settings(args.rescore)],
        "ivf": [(f"nprobe={p}", {**ivf, "nprobe": p}) for p in map(int, args.nprobe.split(","))],
        "hnsw": [(f"M={args.hnsw_m} efC={args.ef_construction} efS={e}", {**hnsw, "ef_search": e})
                 for e in map(int, args.ef_search.split(","))],
        "ivfpq": [(f"nlist={args.ivfpq_nlist or 'default'}, pq_m={args.pq_m or 'default'}, nprobe={p or 'default'}, "
                   f"refine={r or 'default'}, {args.ivfpq_rescore or 'default'} re-scored",
                   {"kind": "ivfpq", "nlist": args.ivfpq_nlist, "pq_m": args.pq_m, "nprobe": p, "refine": r,
                    "rescore": args.ivfpq_rescore})
                  for p in settings(args.ivfpq_nprobe) for r in settings(args.refine)],
    }


def settings(values: str) -> list[int | None]:
    """'default,256' -> [None, 256]: None is the gallery's own choice."""
    return [None if v == "default" else int(v) for v in values.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000000", help="gallery sizes, comma-separated")
    parser.add_argument("--recognizer", choices=sorted(DETECTOR_OF), default="edgeface-xs")
    parser.add_argument("--kinds", default="pq,ivfpq", help="index kinds to build at each size "
                        "(flat, pq, hnsw, ivf, ivfpq)")
    parser.add_argument("--queries", type=int, default=PLANTED, help="mated and non-mated queries each (<= 1000)")
    parser.add_argument("--pq-m", type=int, default=None, help="PQ sub-quantisers of pq and ivfpq (default: the gallery's)")
    parser.add_argument("--rescore", default="default", help="PQ candidates re-scored exactly, one row each")
    parser.add_argument("--nlist", type=int, default=None, help="IVF lists (default: the gallery's choice by size)")
    parser.add_argument("--nprobe", default="16,32,64,128", help="IVF lists visited, one row each")
    parser.add_argument("--ivfpq-nlist", type=int, default=None, help="ivfpq lists (default: the gallery's choice)")
    parser.add_argument("--ivfpq-nprobe", default="default", help="ivfpq lists scanned, one row each")
    parser.add_argument("--refine", default="default", help="ivfpq candidates re-ranked in memory, one row each")
    parser.add_argument("--ivfpq-rescore", type=int, default=None, help="ivfpq candidates re-scored exactly")
    parser.add_argument("--hnsw-m", type=int, default=32, help="HNSW links per node")
    parser.add_argument("--ef-construction", type=int, default=40, help="HNSW build candidate list")
    parser.add_argument("--ef-search", default="16,32,64,128", help="HNSW search candidate lists, one row each")
    parser.add_argument("--cache", type=Path, default=None,
                        help="folder of bench/gallery_ivf_curve.py --cache: the same rows and exact answers, reused")
    parser.add_argument("--protection", default=None,
                        help="store protected templates: slerp or biohash (a fresh key; exact search in the protected "
                             "domain); a comma-separated list (none = unprotected) benchmarks each side by side")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the galleries go (default: a temp dir); a given one keeps the enrolled gallery "
                             "of each size for the next run")
    args = parser.parse_args()
    import faiss

    from facetrust.gallery import EnrollRecord, Gallery

    lfw, labels = load_lfw(args.recognizer)
    templates, mated, nonmated = queries_of(lfw, labels)
    mated, nonmated = mated[:args.queries], nonmated[:args.queries]
    sizes = [int(s) for s in args.sizes.split(",")]
    kinds = args.kinds.split(",")
    plan = sweeps(args)
    started = time.time()
    cache = args.cache / f"gallery_curve_{max(sizes)}_{args.queries}.npz" if args.cache else None
    if cache is not None and cache.exists():  # the rows and exact answers of gallery_ivf_curve.py --cache
        cached = np.load(cache)
        synthetic, exact_of_largest = cached["matrix"][PLANTED:], cached["exact"]
    else:
        synthetic, exact_of_largest = distractors(max(sizes) - PLANTED, lfw), None
    protections = args.protection.split(",") if args.protection else ["none"]
    unknown = sorted(set(protections) - {"none", "slerp", "biohash"})
    if unknown:
        parser.error(f"--protection: unknown {', '.join(unknown)} (none, slerp, biohash)")
    protectors = {}
    if protections != ["none"]:  # one key; it reaches every Gallery.open (and the memory probe) through the environment
        from facetrust.privacy import KEY_ENV, ProtectionKey, create_protector, load_key, save_key
        from facetrust.privacy.gallery import calibrated_params

        # Kept next to a --workdir's galleries, so a kept protected gallery opens again.
        key_file = args.workdir / "protection.key" if args.workdir else None
        if key_file is not None and key_file.exists():
            key = load_key(key_file)
        else:
            key = ProtectionKey.generate()
            if key_file is not None:
                args.workdir.mkdir(parents=True, exist_ok=True)
                save_key(key, key_file)
        os.environ[KEY_ENV] = key.hex()
        for name in protections:
            if name != "none":
                protectors[name] = create_protector(name, key, lfw.shape[1], recognizer=args.recognizer,
                                                    **calibrated_params(args.recognizer, name))
                print(f"protected: {protectors[name].spec()}", flush=True)

    def protect(name: str, rows: np.ndarray) -> np.ndarray:
        if name == "none":
            return rows
        return np.concatenate([protectors[name].protect(rows[i:i + 100_000]) for i in range(0, len(rows), 100_000)])

    side_by_side = len(protections) > 1
    protected = (f", {' vs '.join(p if p != 'none' else 'unprotected' for p in protections)}"
                 f" (key {next(iter(protectors.values())).key.fingerprint})" if protectors else "")
    header = [f"# Gallery search benchmark: {args.recognizer} ({lfw.shape[1]}-d){protected}", "",
              f"- {platform.processor() or platform.machine()}, {os.cpu_count()} cores; numpy {np.__version__}, "
              f"faiss {faiss.__version__}; load average at start {' / '.join(f'{v:.2f}' for v in os.getloadavg())}",
              f"- {len(templates)} planted LFW identities, {len(mated)} mated and {len(nonmated)} non-mated real "
              f"queries; {similarity_profile(lfw, labels, synthetic)}",
              f"- command: python bench/bench_gallery.py {' '.join(sys.argv[1:])}"]
    print("\n".join(header), flush=True)
    rows: list[Row] = []
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_gallery_"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        for size in sizes:
            matrix = np.concatenate([templates, synthetic[:size - PLANTED]])
            built = []
            try:
                for name in protections:

                    def label(kind: str, name: str = name) -> str:
                        return f"{kind} ({name if name != 'none' else 'unprotected'})" if side_by_side else kind

                    stored = protect(name, matrix)
                    probes = protect(name, np.concatenate([mated, nonmated]))
                    exact = (exact_of_largest if name == "none" and exact_of_largest is not None and size == max(sizes)
                             else exact_top1(stored, probes))
                    truth = Truth(exact, stored, probes)
                    suffix = "" if name == "none" else "_" + name
                    path = workdir / f"bench_{size}_{args.recognizer}{suffix}.gallery"
                    if path.exists():  # a --workdir kept from an earlier run: the same rows (fixed seed)
                        print(f"N={size:,}: reusing {path}", flush=True)
                    else:
                        with Gallery.create(path, args.recognizer, protection=None if name == "none" else name) as gallery:
                            begun = time.perf_counter()
                            gallery.enroll_many((EnrollRecord(f"t{i}", matrix[i]) for i in range(size)), batch_size=10_000)
                            print(f"N={size:,}: enrolled {label('gallery')} in {time.perf_counter() - begun:.0f} s",
                                  flush=True)
                    rows.append(bench_numpy(size, stored, probes[:len(mated)], probes[len(mated):], exact,
                                            label("numpy")))
                    print(rows[-1].line(), flush=True)
                    for kind in kinds:
                        built.append(build_kind(path, kind, plan[kind], mated[0]))
                        built[-1].label, built[-1].truth = label(kind), truth
                rows += measure_all(size, built, mated, nonmated)
            finally:
                for b in built:
                    for leftover in workdir.glob(f"{b.path.name}*"):
                        leftover.unlink()
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    header.append(f"- load average at end {' / '.join(f'{v:.2f}' for v in os.getloadavg())}; "
                  f"{(time.time() - started) / 60:.0f} min in all")
    table = "\n".join(header) + "\n\n" + HEADER + "\n" + "\n".join(r.line() for r in rows) + "\n"
    print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"bench_gallery_{args.recognizer}_{max(sizes)}_{'-'.join(kinds)}{'_' + '-'.join(protections) if protectors else ''}"
    out.with_suffix(".md").write_text(table)
    out.with_suffix(".json").write_text(json.dumps({"header": header, "rows": [asdict(r) for r in rows]}, indent=1))


if __name__ == "__main__":
    main()
