"""What an encrypted gallery shared by several instances costs: searches of the in-memory index of
decrypted vectors that each instance keeps, and its refresh after another instance changed it.

Two ``Gallery`` objects on one encrypted PostgreSQL gallery (real PostgreSQL from pgserver, local
socket) stand for two instances, each with its own connection and in-memory index:

* the first search of an instance (decrypts every template: the cost of a start or a key change);
* a search with nothing changed (one generation read, then exact search in memory);
* the first search on B after A enrolled one identity (decrypts the one new template);
* the same on B after A erased one identity.

    python bench/bench_sealed_shared.py                 # 10,000 identities, 300 queries
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
from bench_shared_state import timed_ms  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--identities", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--changes", type=int, default=30,
                        help="enrolments (and erasures) on A, each followed by a search on B")
    args = parser.parse_args()

    from facetrust.gallery import EnrollRecord, Gallery
    from facetrust.privacy import ProtectionKey

    with scratch_postgres("facetrust-sealed-shared-") as url:
        print(f"load average at start: {load_average()}")
        rng = np.random.default_rng(0)
        vectors = rng.normal(size=(args.identities + args.changes, 512)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        queries = vectors[rng.choice(args.identities, args.queries)] + rng.normal(
            scale=0.02, size=(args.queries, 512)).astype(np.float32)
        key = ProtectionKey.generate()
        start = time.perf_counter()
        a = Gallery.create(url, "edgeface-xs", schema="sealed", encryption_key=key)
        a.enroll_many([EnrollRecord(f"p{i}", v) for i, v in enumerate(vectors[:args.identities])], batch_size=1000)
        enrol_s = time.perf_counter() - start
        b = Gallery.open(url, schema="sealed", encryption_key=key)
        start = time.perf_counter()
        first = b.search_embedding(queries[0], k=5)
        cold_ms = (time.perf_counter() - start) * 1000
        assert first.matches, "the search found nothing"
        found = iter(queries)
        rows = [(f"first search of an instance (decrypts {args.identities:,} templates)", cold_ms, cold_ms),
                ("search, nothing changed (generation read + exact search in memory)",
                 *timed_ms(lambda: b.search_embedding(next(found), k=5), args.queries))]
        newcomers = iter(range(args.identities, args.identities + args.changes))

        def after_enrolment() -> None:
            i = next(newcomers)
            a.enroll_many([EnrollRecord(f"p{i}", vectors[i])])
            start = time.perf_counter()
            assert b.search_embedding(vectors[i], k=1).identity == f"p{i}"
            times.append((time.perf_counter() - start) * 1000)

        def after_erasure(i: int) -> None:
            a.remove(f"p{i}")
            start = time.perf_counter()
            assert b.search_embedding(vectors[i], k=1).identity != f"p{i}"
            times.append((time.perf_counter() - start) * 1000)

        times: list[float] = []
        for _ in range(args.changes):
            after_enrolment()
        rows.append(("search on B after A enrolled one identity (refresh + search)",
                     float(np.percentile(times, 50)), float(np.percentile(times, 99))))
        times = []
        for i in range(args.changes):
            after_erasure(i)
        rows.append(("search on B after A erased one identity (refresh + search)",
                     float(np.percentile(times, 50)), float(np.percentile(times, 99))))
        a.close()
        b.close()
        print(f"load average at end: {load_average()}; enrolling {args.identities:,} encrypted templates "
              f"took {enrol_s:.1f} s\n")
        print("| step | p50 ms | p99 ms |\n|---|---|---|")
        for name, p50, p99 in rows:
            print(f"| {name} | {p50:.2f} | {p99:.2f} |")


if __name__ == "__main__":
    main()
