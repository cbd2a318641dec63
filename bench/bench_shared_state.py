"""What the state shared by several instances costs per request, and the choice it rests on.

Instances of ``facetrust serve`` with ``database_url`` search the gallery in PostgreSQL
(pgvector) on every request instead of keeping an index per instance. This measures, on a
real PostgreSQL (pgserver, local socket):

* the per-request steps of the gate: the API key lookup and the rate-limit token step;
* a gallery search in pgvector (HNSW) at ``--identities`` random 512-d templates;
* the alternative — a FAISS index per instance, checked against a version counter at every
  request and rebuilt when another instance changed the gallery: the counter read, the
  in-memory search, and the rebuild from the database.

    python bench/bench_shared_state.py                 # 10,000 identities, 300 queries
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_server import load_average  # noqa: E402
from common import scratch_postgres  # noqa: E402


def timed_ms(call, repeat: int) -> tuple[float, float]:
    """p50 and p99 of ``call()`` in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--identities", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()

    import faiss

    from facetrust.gallery import EnrollRecord, Gallery
    from facetrust.server.database import SharedDatabase
    from facetrust.server.keys import PostgresKeyStore
    from facetrust.server.ratelimit import SharedRateLimiter

    with scratch_postgres("facetrust-shared-state-") as url:
        print(f"load average at start: {load_average()}")
        database = SharedDatabase(url, "bench")
        keys = PostgresKeyStore(database)
        _, secret = keys.create("bench")
        limiter = SharedRateLimiter(database, 1e6, 1_000_000)
        rows = [("key check (primary-key lookup)", *timed_ms(lambda: keys.authenticate(secret), 1000)),
                ("rate-limit token step (SQL function)", *timed_ms(lambda: limiter.acquire("key:bench"), 1000))]

        rng = np.random.default_rng(0)
        vectors = rng.normal(size=(args.identities, 512)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        queries = vectors[rng.choice(args.identities, args.queries)] + rng.normal(
            scale=0.02, size=(args.queries, 512)).astype(np.float32)
        start = time.perf_counter()
        gallery = Gallery.create(url, "edgeface-xs", schema="search")
        gallery.enroll_many([EnrollRecord(f"p{i}", v) for i, v in enumerate(vectors)], batch_size=1000)
        enrol_s = time.perf_counter() - start
        found = iter(queries)
        rows.append((f"pgvector HNSW search, k=5, {args.identities:,} identities",
                     *timed_ms(lambda: gallery.search_embedding(next(found), k=5), args.queries)))

        # The alternative's check at every request: one small read (a meta row stands in for the counter).
        rows.append(("version counter read (alternative)", *timed_ms(lambda: database.run(
            lambda c: c.execute("SELECT value FROM bench.meta WHERE key = 'model'").fetchone()), 1000)))
        index = faiss.IndexFlatIP(512)
        index.add(vectors)
        found = iter(queries)
        rows.append(("FAISS flat search in memory, k=5 (alternative)",
                     *timed_ms(lambda: index.search(next(found)[None, :], 5), args.queries)))

        def rebuild() -> None:
            faiss.IndexFlatIP(512).add(np.concatenate([v for _, v in gallery.backend.iter_export()]))

        rows.append(("FAISS rebuild from the database after a change (alternative)", *timed_ms(rebuild, 3)))
        gallery.close()
        database.close()
        print(f"load average at end: {load_average()}; enrolling {args.identities:,} templates "
              f"(HNSW index) took {enrol_s:.1f} s\n")
        print("| step | p50 ms | p99 ms |\n|---|---|---|")
        for name, p50, p99 in rows:
            print(f"| {name} | {p50:.2f} | {p99:.2f} |")


if __name__ == "__main__":
    main()
