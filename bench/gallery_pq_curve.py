"""Raw FAISS curve behind the gallery's ``pq`` index: PQ fast-scan codes of every template,
the top R re-scored exactly, recall@1 against exact search (no SQLite, no gallery).

Same data as bench/bench_gallery.py (1,000 real LFW identities planted among face-like
distractors; 300 mated and 300 non-mated real queries). Used to choose ``pq_m`` and the number
of re-scored candidates; the gallery's own numbers come from bench_gallery.py.

    python bench/gallery_pq_curve.py 100000 "PQ32x4fs;PQ64x4fs;PQ16x4fs"
"""
from __future__ import annotations

import sys
import time

import faiss
import numpy as np

from bench_gallery import distractors, exact_top1, load_lfw, queries_of


def main() -> None:
    size, specs = int(sys.argv[1]), sys.argv[2].split(";")
    lfw, labels = load_lfw("edgeface-xs")
    templates, mated, nonmated = queries_of(lfw, labels)
    mated, nonmated = mated[:300], nonmated[:300]
    matrix = np.concatenate([templates, distractors(size - len(templates), lfw)])
    queries = np.concatenate([mated, nonmated])
    n = len(mated)
    exact = exact_top1(matrix, queries)
    for spec in specs:
        started = time.time()
        index = faiss.index_factory(matrix.shape[1], spec, faiss.METRIC_INNER_PRODUCT)
        index.train(matrix[np.random.default_rng(0).choice(size, min(size, 50_000), replace=False)])
        index.add(matrix)
        print(f"{spec}: build {time.time() - started:.1f} s, {faiss.serialize_index(index).size / size:.1f} bytes "
              "per template", flush=True)
        faiss.omp_set_num_threads(1)
        for rescored in (16, 64, 256):
            times, top = [], []
            for query in queries:
                begun = time.perf_counter()
                _, ids = index.search(query[None], rescored)
                times.append(time.perf_counter() - begun)
                found = ids[0][ids[0] >= 0]
                top.append(found[np.argmax(matrix[found] @ query)])
            top_arr = np.array(top)
            print(f"  R={rescored}: recall@1 mated {np.mean(top_arr[:n] == exact[:n]):.3f}, non-mated "
                  f"{np.mean(top_arr[n:] == exact[n:]):.3f}; FAISS search p50 {np.median(times) * 1000:.2f} ms",
                  flush=True)
        faiss.omp_set_num_threads(2)


if __name__ == "__main__":
    main()
