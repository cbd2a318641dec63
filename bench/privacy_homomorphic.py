"""Cost and accuracy of encrypted matching (TenSEAL CKKS) on real dlib-resnet LFW embeddings.

Gallery templates: the cached embeddings of the LFW View-2 pair images (`facetrust eval lfw`
fills the cache), repeated to reach 10,000 where there are fewer. Prints JSON: key setup,
sizes, seconds per 1:1 comparison (server side), seconds per 1:N search at 1k and 10k
(server side, plus client-side probe encryption and decryption), and the largest
difference between encrypted and plaintext scores.

    python bench/privacy_homomorphic.py
"""
from __future__ import annotations

import json
import time

import numpy as np

from common import LFW_PAIRS, LFW_ROOT
from facetrust.evaluation.cache import EmbeddingCache, content_hash
from facetrust.evaluation.embedder import EvalModel
from facetrust.evaluation.lfw import LFW_FALLBACK_BOX, read_lfw_pairs
from facetrust.privacy.homomorphic import HomomorphicClient, HomomorphicServer


def cached_vectors() -> np.ndarray:
    pairs = read_lfw_pairs(LFW_PAIRS, LFW_ROOT)
    paths = sorted({p.path_a for p in pairs} | {p.path_b for p in pairs})
    model = EvalModel(fallback_box=LFW_FALLBACK_BOX)
    with EmbeddingCache() as cache:
        found = cache.get_many(model.cache_key(), [content_hash(p) for p in paths])
    rows = [e.best() for e in found.values() if e.best() is not None]
    vectors = np.array(rows, dtype=np.float64)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def main() -> None:
    vectors = cached_vectors()
    out: dict = {"real_embeddings": int(len(vectors))}
    started = time.perf_counter()
    client = HomomorphicClient(128)
    server = HomomorphicServer(client.public_context())
    out["key_setup_s"] = time.perf_counter() - started
    out["public_context_mb"] = len(client.public_context()) / 1e6
    encrypted = [client.encrypt_template(v) for v in vectors[:21]]
    out["template_ciphertext_kb"] = len(encrypted[0]) / 1e3
    times, errors = [], []
    for i in range(20):
        started = time.perf_counter()
        answer = server.score(encrypted[i], encrypted[i + 1])
        times.append(time.perf_counter() - started)
        errors.append(abs(client.decrypt_scores(answer)[0] - vectors[i] @ vectors[i + 1]))
    out["one_to_one"] = {"server_s_median": float(np.median(times)), "max_abs_error": float(max(errors))}
    for size in (1_000, 10_000):
        gallery_plain = np.resize(vectors, (size, vectors.shape[1]))
        started = time.perf_counter()
        gallery = client.encrypt_gallery(gallery_plain)
        encrypt_s = time.perf_counter() - started
        probe = vectors[-1]
        started = time.perf_counter()
        columns = client.encrypt_probe_columns(probe, gallery.size)
        probe_s = time.perf_counter() - started
        started = time.perf_counter()
        answer = server.score_gallery(columns, gallery)
        search_s = time.perf_counter() - started
        started = time.perf_counter()
        scores = client.decrypt_scores(answer, gallery.size)
        decrypt_s = time.perf_counter() - started
        plain = gallery_plain @ probe
        out[f"one_to_n_{size}"] = {
            "gallery_encrypt_s": encrypt_s, "probe_encrypt_s": probe_s, "server_search_s": search_s,
            "decrypt_s": decrypt_s, "max_abs_error": float(np.abs(scores - plain).max()),
            "same_top1": bool(np.argmax(scores) == np.argmax(plain)),
            "gallery_mb": sum(len(c) for block in gallery.blocks for c in block) / 1e6,
            "probe_mb": sum(len(c) for c in columns) / 1e6,
        }
        print(size, out[f"one_to_n_{size}"], flush=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
