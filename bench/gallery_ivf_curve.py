"""Raw FAISS curve behind the gallery's ``ivfpq`` index: a coarse quantiser picks ``nprobe`` of
``nlist`` inverted lists, their 4-bit PQ fast-scan codes are scanned, and the top R candidates
are re-scored exactly; recall@1 against exact search (no SQLite, no gallery).

Same data as bench/bench_gallery.py (1,000 real LFW identities planted among face-like
distractors; 300 mated and 300 non-mated real queries). Used to choose nlist, nprobe and R;
the gallery's own numbers come from bench_gallery.py. Each spec is built on a
training sample of ``--train`` vectors (``--threads``) and searched one query at a time with 1 thread.

    python bench/gallery_ivf_curve.py 1000000 "SPAN,IVF1024,PQ48x4fs;SPAN,PQ32x4fs" \
        --nprobe 16,32,64,128 --rescore 16,64
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import faiss
import numpy as np

from bench_gallery import distractors, exact_top1, load_lfw, queries_of


def span(sample: np.ndarray) -> faiss.PCAMatrix:
    """Projection onto the span of the sample, without centring (inner products are kept)."""
    moment = sample.T.astype(np.float64) @ sample / len(sample)
    values, vectors = np.linalg.eigh(moment)
    order = np.argsort(values)[::-1]
    kept = int(np.searchsorted(np.cumsum(values[order]) / values.sum(), 1 - 1e-6) + 1)
    kept = min(sample.shape[1], -(-kept // 8) * 8)
    transform = faiss.PCAMatrix(sample.shape[1], kept)
    faiss.copy_array_to_vector(vectors[:, order[:kept]].T.astype(np.float32).ravel(), transform.A)
    faiss.copy_array_to_vector(np.zeros(kept, dtype=np.float32), transform.b)
    faiss.copy_array_to_vector(np.zeros(sample.shape[1], dtype=np.float32), transform.mean)
    faiss.copy_array_to_vector(values[order].astype(np.float32), transform.eigenvalues)
    transform.is_trained = True
    return transform


def build(spec: str, dim: int, sample: np.ndarray) -> faiss.Index:
    if not spec.startswith("SPAN,"):
        return faiss.index_factory(dim, spec, faiss.METRIC_INNER_PRODUCT)
    transform = span(sample)
    print(f"  span of the sample: {transform.d_out} dimensions", flush=True)
    return faiss.IndexPreTransform(transform, faiss.index_factory(transform.d_out, spec[5:], faiss.METRIC_INNER_PRODUCT))


def spherical(index: faiss.Index) -> None:
    """Unit-norm centroids (spherical k-means): with inner-product assignment, raw means of unit
    vectors let the larger-norm centroids take more and more of the points."""
    try:
        faiss.extract_index_ivf(index).cp.spherical = True
    except RuntimeError:
        pass


def set_nprobe(index: faiss.Index, nprobe: int) -> None:
    try:
        ivf = faiss.extract_index_ivf(index)
    except RuntimeError:  # not an IVF index: every code is scanned
        return
    ivf.nprobe = nprobe
    quantizer = faiss.downcast_index(ivf.quantizer)
    if isinstance(quantizer, faiss.IndexHNSW):
        quantizer.hnsw.efSearch = max(64, 2 * nprobe)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("size", type=int)
    parser.add_argument("specs", help="FAISS factory strings, ';'-separated; SPAN, first: onto the span of the "
                        "sample; SPH, first: spherical k-means")
    parser.add_argument("--nprobe", default="16,32,64,128")
    parser.add_argument("--rescore", default="16,64")
    parser.add_argument("--train", type=int, default=100_000, help="training sample")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2, help="FAISS threads while building (1 on a busy machine)")
    parser.add_argument("--cache", type=Path, default=None, help="folder to keep the matrix and exact answers in")
    args = parser.parse_args()
    lfw, labels = load_lfw("edgeface-xs")
    templates, mated, nonmated = queries_of(lfw, labels)
    mated, nonmated = mated[:args.queries], nonmated[:args.queries]
    queries = np.concatenate([mated, nonmated])
    n = len(mated)
    cache = args.cache / f"gallery_curve_{args.size}_{args.queries}.npz" if args.cache else None
    if cache is not None and cache.exists():
        data = np.load(cache)
        matrix, exact = data["matrix"], data["exact"]
    else:
        matrix = np.concatenate([templates, distractors(args.size - len(templates), lfw)])
        exact = exact_top1(matrix, queries)
        if cache is not None:
            np.savez(cache, matrix=matrix, exact=exact)
    sample = matrix[np.sort(np.random.default_rng(0).choice(args.size, min(args.size, args.train), replace=False))]
    print(f"N={args.size:,}; load average {os.getloadavg()[0]:.1f}", flush=True)
    for spec in args.specs.split(";"):
        faiss.omp_set_num_threads(args.threads)
        started = time.time()
        index = build(spec.removeprefix("SPH,"), matrix.shape[1], sample)
        if spec.startswith("SPH,"):
            spherical(index)
        index.train(sample)
        trained = time.time() - started
        index.add(matrix)
        lists = faiss.extract_index_ivf(index).invlists if "IVF" in spec else None
        print(f"{spec}: {'list imbalance %.2f, ' % lists.imbalance_factor() if lists else ''}train {trained:.0f} s, build {time.time() - started:.0f} s, "
              f"{faiss.serialize_index(index).size / args.size:.1f} bytes per template; "
              f"load {os.getloadavg()[0]:.1f}", flush=True)
        faiss.omp_set_num_threads(1)
        ivf = "IVF" in spec
        for nprobe in map(int, args.nprobe.split(",")) if ivf else [0]:
            set_nprobe(index, nprobe)
            for rescored in map(int, args.rescore.split(",")):
                times, top = [], []
                for query in queries:
                    begun = time.perf_counter()
                    _, ids = index.search(query[None], rescored)
                    times.append(time.perf_counter() - begun)
                    found = ids[0][ids[0] >= 0]
                    top.append(found[np.argmax(matrix[found] @ query)] if len(found) else -1)
                top_arr = np.array(top)
                print(f"  {f'nprobe={nprobe} ' if ivf else ''}R={rescored}: recall@1 mated {np.mean(top_arr[:n] == exact[:n]):.3f}, "
                      f"non-mated {np.mean(top_arr[n:] == exact[n:]):.3f}; FAISS p50 {np.median(times) * 1000:.3f} ms "
                      f"p99 {np.percentile(times, 99) * 1000:.3f} ms; load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
