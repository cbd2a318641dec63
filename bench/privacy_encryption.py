"""Cost of encryption at rest (AES-256-GCM): enrolment, index build, open, search and key rotation,
plain vs encrypted gallery, at 10k and 100k templates.

Templates: the cached dlib-resnet embeddings of the LFW View-2 images (`facetrust eval lfw`
fills the cache; 7,701 real faces), completed to N with face-like synthetic vectors (a Gaussian
with the real embeddings' mean and covariance, normalised, as in bench/bench_gallery.py).
Probes: the real embeddings with small noise. Both galleries get the same rows and the default
``IndexConfig`` (exact below 50k templates, IVF-SQ8 with exact re-scoring above).

Columns: enrol = ``enroll_many`` (batches of 10k) in templates/s; build = ``flush()`` (index built
and written); open = ``Gallery.open`` + first search (the index file loaded, decrypted when
encrypted); search p50/p99 = single queries, k=1, through the public API; rotate = ``rotate_key``
(re-encrypt every row and the index, checkpoint, verify).

On PostgreSQL (``--postgres``: a pgserver PostgreSQL 16 + pgvector in a temporary folder) the plain
gallery searches with pgvector's HNSW index and the encrypted one with the exact in-memory index
over decrypted vectors (pgvector cannot search ciphertext); "build" is then nothing to flush, and
"open + 1st search" includes decrypting every row into memory.

    python bench/privacy_encryption.py [--sizes 10000,100000] [--queries 300] [--postgres]
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from privacy_homomorphic import cached_vectors


def face_like(real: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    block = rng.multivariate_normal(real.mean(axis=0), np.cov(real.T), size=n)
    return (block / np.linalg.norm(block, axis=1, keepdims=True)).astype(np.float32)


def run(size: int, matrix: np.ndarray, probes: np.ndarray, key: Path | None, other: Path | None,
        workdir: Path, postgres: str | None = None) -> dict[str, float | str]:
    from facetrust.gallery import EnrollRecord, Gallery
    from facetrust.privacy.encryption import rotate_key

    path = workdir / f"{'enc' if key else 'plain'}_{size}.gallery"
    options = {"schema": f"{'enc' if key else 'plain'}_{size}"} if postgres else {}
    location = postgres or path
    # The evaluation cache holds the default preset's embeddings (EdgeFace-XS, 512-d) or dlib-resnet's.
    recognizer = {128: "dlib-resnet", 512: "edgeface-xs"}[matrix.shape[1]]
    with Gallery.create(location, recognizer, encryption_key=key, **options) as gallery:
        started = time.perf_counter()
        gallery.enroll_many((EnrollRecord(f"t{i}", matrix[i]) for i in range(size)), batch_size=10_000)
        enrol = size / (time.perf_counter() - started)
        started = time.perf_counter()
        gallery.flush()
        build = time.perf_counter() - started
    started = time.perf_counter()
    gallery = Gallery.open(location, readonly=True, encryption_key=key, **options)
    gallery.search_embedding(probes[0], k=1)
    opened = time.perf_counter() - started
    times = []
    try:
        for probe in probes:
            started = time.perf_counter()
            gallery.search_embedding(probe, k=1)
            times.append(time.perf_counter() - started)
        stats = gallery.stats()
        kind = stats["index"]["kind"]
    finally:
        gallery.close()
    sizes = stats["files_bytes"]["tables"] if postgres else sum(p.stat().st_size for p in workdir.glob(path.name + "*"))
    out: dict[str, float | str] = {"enrol_per_s": enrol, "build_s": build, "open_s": opened,
                                   "p50_ms": float(np.percentile(times, 50) * 1000),
                                   "p99_ms": float(np.percentile(times, 99) * 1000),
                                   "files_mb": sizes / 2**20, "index": kind}
    if key is not None:
        started = time.perf_counter()
        rotate_key(location, key, other, **options)
        out["rotate_s"] = time.perf_counter() - started
    for leftover in workdir.glob(path.name + "*"):
        leftover.unlink()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL galleries (pgserver) instead of SQLite")
    args = parser.parse_args()
    from facetrust.privacy import ProtectionKey, save_key

    real = cached_vectors().astype(np.float32)
    rng = np.random.default_rng(1)
    probes = real[rng.choice(len(real), args.queries, replace=False)] + rng.normal(0, 0.02, (args.queries, real.shape[1]))
    probes = (probes / np.linalg.norm(probes, axis=1, keepdims=True)).astype(np.float32)
    sizes = [int(s) for s in args.sizes.split(",")]
    synthetic = face_like(real, max(max(sizes) - len(real), 0))
    workdir = Path(tempfile.mkdtemp(prefix="bench_encryption_"))
    key = save_key(ProtectionKey.generate(), workdir / "a.key")
    other = save_key(ProtectionKey.generate(), workdir / "b.key")
    server = None
    if args.postgres:
        import pgserver

        server = pgserver.get_server(Path(tempfile.mkdtemp(prefix="bench_pg_")), cleanup_mode="stop")
        server.psql("CREATE EXTENSION IF NOT EXISTS vector;")
    load = os.getloadavg()
    lines = [f"- {platform.processor() or platform.machine()}, {os.cpu_count()} cores; {len(real):,} real LFW "
             f"embeddings + face-like synthetic; {args.queries} queries; load average at start {load[0]:.2f}", "",
             "| N | gallery | index | enrol /s | build s | open + 1st search s | search p50 ms | search p99 ms | "
             "files MB | rotate-key s |", "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    try:
        for size in sizes:
            matrix = np.concatenate([real, synthetic])[:size]
            for name, k in (("plain", None), ("encrypted", key)):
                r = run(size, matrix, probes, k, other, workdir, server.get_uri() if server else None)
                print(size, name, r, flush=True)
                rotate = f"{r['rotate_s']:.2f}" if "rotate_s" in r else "–"
                lines.append(f"| {size:,} | {name} | {r['index']} | {r['enrol_per_s']:,.0f} | {r['build_s']:.2f} | "
                             f"{r['open_s']:.2f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['files_mb']:.1f} | "
                             f"{rotate} |")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if server is not None:
            server.cleanup()
    load = os.getloadavg()
    lines.append(f"\n- load average at end {load[0]:.2f}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
