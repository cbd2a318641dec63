"""Raw FAISS curve behind the gallery's ``pq`` and ``ivfpq`` indexes: PQ fast-scan codes of every
template, the top R re-scored exactly, recall@1 against exact search (no SQLite, no gallery).

Same data as bench/bench_gallery.py (1,000 real LFW identities planted among face-like
distractors; 300 mated and 300 non-mated real queries). Used to choose ``pq_m`` and the number
of re-scored candidates; the gallery's own numbers come from bench_gallery.py.

``--threads`` sends each single query through FAISS with that many OpenMP threads; ``--shards S``
splits the codes into S indexes searched at once by FAISS's threaded ``IndexShards`` (one thread
each). Both test whether a second core shortens one query. The first line is the machine's
memory read rate (numpy summing a 256 MB array), so the scan's floor is bytes scanned / that rate.

    python bench/gallery_pq_curve.py 100000 "PQ32x4fs;PQ64x4fs;PQ16x4fs"
    python bench/gallery_pq_curve.py 1000000 "PCA192,PQ32x4fs;PCA192,PQ16x4fs" --rescored 1024 --threads 1,2 --shards 2
"""
from __future__ import annotations

import argparse
import time

import faiss
import numpy as np

from bench_gallery import distractors, exact_top1, load_lfw, queries_of


def read_rate_gb_s() -> float:
    """Best of five sums over a 256 MB array: the rate one core streams memory at."""
    data = np.ones(256 * 2 ** 20 // 8, dtype=np.float64)
    best = min(_timed(data.sum) for _ in range(5))
    return data.nbytes / best / 1e9


def _timed(call) -> float:
    begun = time.perf_counter()
    call()
    return time.perf_counter() - begun


def sharded(index_spec: str, matrix: np.ndarray, sample: np.ndarray, shards: int):
    """``shards`` indexes of consecutive rows behind one threaded ``IndexShards`` (ids kept)."""
    whole = faiss.IndexShards(matrix.shape[1], True, False)
    parts = []
    for rows in np.array_split(np.arange(len(matrix)), shards):
        part = faiss.index_factory(matrix.shape[1], index_spec, faiss.METRIC_INNER_PRODUCT)
        part.train(sample)
        part = faiss.IndexIDMap(part)
        part.add_with_ids(matrix[rows], rows.astype(np.int64))
        parts.append(part)
        whole.add_shard(part)
    return whole, parts  # the parts must outlive the shards object


def curve(name: str, index, matrix: np.ndarray, queries: np.ndarray, exact: np.ndarray, n: int,
          rescored: list[int]) -> None:
    for r in rescored:
        times, top = [], []
        for query in queries:
            begun = time.perf_counter()
            _, ids = index.search(query[None], r)
            times.append(time.perf_counter() - begun)
            found = ids[0][ids[0] >= 0]
            top.append(found[np.argmax(matrix[found] @ query)])
        top_arr = np.array(top)
        print(f"  {name} R={r}: recall@1 mated {np.mean(top_arr[:n] == exact[:n]):.3f}, non-mated "
              f"{np.mean(top_arr[n:] == exact[n:]):.3f}; FAISS search p50 {np.median(times) * 1000:.2f} ms, "
              f"p90 {np.percentile(times, 90) * 1000:.2f} ms", flush=True)


def positive_ints(text: str) -> list[int]:
    """``"16,64"`` -> [16, 64]; argparse turns the ValueError into one usage line."""
    values = [int(v) for v in text.split(",")]
    if not values or min(values) < 1:
        raise ValueError(text)
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("size", type=int)
    parser.add_argument("specs", help="FAISS factory strings separated by ';'")
    parser.add_argument("--rescored", type=positive_ints, default="16,64,256",
                        help="candidates re-scored exactly (comma list)")
    parser.add_argument("--threads", type=positive_ints, default="1",
                        help="OpenMP threads per single query (comma list)")
    parser.add_argument("--shards", type=int, default=0, help="also search S threaded shards (0: no)")
    args = parser.parse_args()
    if args.shards < 0:
        parser.error("--shards must be 0 or more")
    for spec in args.specs.split(";"):
        try:
            faiss.index_factory(512, spec, faiss.METRIC_INNER_PRODUCT)  # the embeddings are 512-d
        except RuntimeError:
            parser.error(f"not a FAISS index factory string: {spec!r}")
    rescored = args.rescored
    print(f"memory read rate, one core: {read_rate_gb_s():.1f} GB/s", flush=True)
    lfw, labels = load_lfw("edgeface-xs")
    templates, mated, nonmated = queries_of(lfw, labels)
    if args.size <= len(templates):
        parser.error(f"size must exceed the {len(templates)} planted LFW templates, got {args.size}")
    mated, nonmated = mated[:300], nonmated[:300]
    matrix = np.concatenate([templates, distractors(args.size - len(templates), lfw)]).astype(np.float32)
    queries = np.concatenate([mated, nonmated])
    n = len(mated)
    exact = exact_top1(matrix, queries)
    sample = matrix[np.random.default_rng(0).choice(args.size, min(args.size, 50_000), replace=False)]
    for spec in args.specs.split(";"):
        started = time.time()
        index = faiss.index_factory(matrix.shape[1], spec, faiss.METRIC_INNER_PRODUCT)
        index.train(sample)
        index.add(matrix)
        print(f"{spec}: build {time.time() - started:.1f} s, {faiss.serialize_index(index).size / args.size:.1f} "
              "bytes per template", flush=True)
        for threads in args.threads:
            faiss.omp_set_num_threads(threads)
            curve(f"{threads} thread(s)", index, matrix, queries, exact, n, rescored)
        if args.shards:
            faiss.omp_set_num_threads(1)
            whole, _parts = sharded(spec, matrix, sample, args.shards)
            curve(f"{args.shards} threaded shards", whole, matrix, queries, exact, n, rescored)
        faiss.omp_set_num_threads(2)


if __name__ == "__main__":
    main()
