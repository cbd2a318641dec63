"""Calibrate a recognizer's verification thresholds at stated false-match rates.

Embeds every LFW-a image (the centre face, as the LFW evaluation selects it), scores ALL cross-identity pairs
(~87 million impostor comparisons) and all same-identity pairs, and writes
the impostor-score quantiles to ``facetrust/recognition/calibration/<name>.json``.

    python bench/calibrate_thresholds.py --recognizer dlib-resnet --detector dlib-hog --workers 2

Embeddings go through the evaluation's embedding cache (``FACETRUST_CACHE_DIR``), so a
later ``facetrust eval lfw`` with the same models costs only the matching.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import LFW_ROOT, ROOT  # noqa: E402

from facetrust.evaluation.cache import EmbeddingCache  # noqa: E402
from facetrust.evaluation.embedder import EvalModel, embed_images  # noqa: E402
from facetrust.recognition.calibration import calibration_filename  # noqa: E402

FMR_GRID = [1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 1e-1]
#: A threshold is only stated where at least this many impostor scores lie above it.
MIN_TAIL = 50


def embed_lfw(model: EvalModel, workers: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Detected-face embeddings of every LFW-a image, through the evaluation's embedding
    cache: ``facetrust eval lfw`` with the same detector and recognizer then embeds nothing."""
    paths = sorted(LFW_ROOT.glob("*/*.jpg"))
    with EmbeddingCache() as cache:
        embedded = embed_images(paths, model, cache, workers=workers)
    vectors, labels = [], []
    for path in paths:
        vector = embedded.vector(path, use_fallback=False)
        if vector is not None:
            vectors.append(vector)
            labels.append(path.parent.name)
    _, label_ids = np.unique(np.array(labels), return_inverse=True)
    return np.stack(vectors).astype(np.float32), label_ids, len(paths) - len(vectors)


def pair_scores(vectors: np.ndarray, labels: np.ndarray, block: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """All i<j pair scores, split into impostor and genuine."""
    n = len(vectors)
    impostor = np.empty(n * (n - 1) // 2, dtype=np.float32)
    genuine: list[np.ndarray] = []
    filled = 0
    for start in range(0, n, block):
        rows = slice(start, min(n, start + block))
        scores = vectors[rows] @ vectors.T
        for offset, row in enumerate(scores):
            i = start + offset
            upper = row[i + 1 :]
            same = labels[i + 1 :] == labels[i]
            genuine.append(upper[same])
            chunk = upper[~same]
            impostor[filled : filled + len(chunk)] = chunk
            filled += len(chunk)
    return impostor[:filled], np.concatenate(genuine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recognizer", default="dlib-resnet")
    parser.add_argument("--detector", default="dlib-hog")
    parser.add_argument("--select", default="center", choices=["center", "largest"],
                        help="face per image: 'center' as `facetrust eval lfw` does (dlib-resnet and "
                             "mobilefacenet were calibrated with 'largest')")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    model = EvalModel(args.detector, args.recognizer, select=args.select)
    started = time.time()
    vectors, labels, missing = embed_lfw(model, args.workers)
    impostor, genuine = pair_scores(vectors, labels)
    impostor.sort()
    fmrs, thresholds, fnmrs = [], [], []
    for fmr in FMR_GRID:
        tail = int(np.floor(fmr * len(impostor)))
        if tail < MIN_TAIL:
            continue
        # Smallest threshold with at most `tail` impostor scores >= it.
        threshold = float(np.nextafter(impostor[-tail - 1], np.float32(np.inf)))
        fmrs.append(fmr)
        thresholds.append(round(threshold, 6))
        fnmrs.append(round(float(np.mean(genuine < threshold)), 6))
    record = {
        "recognizer": args.recognizer,
        "detector": args.detector,
        "dataset": f"LFW-a, {len(vectors)} of {len(vectors) + missing} images with a face ({args.select} face per image)",
        "impostor_pairs": int(len(impostor)),
        "genuine_pairs": int(len(genuine)),
        "fmr": fmrs,
        "threshold": thresholds,
        "fnmr": fnmrs,
        # Impostor score statistics: what score-level fusion z-normalises with.
        "impostor_mean": round(float(impostor.mean(dtype=np.float64)), 6),
        "impostor_std": round(float(impostor.std(dtype=np.float64)), 6),
        "command": f"python bench/calibrate_thresholds.py --recognizer {args.recognizer} --detector {args.detector} "
                   f"--select {args.select}",
    }
    out = ROOT / "facetrust" / "recognition" / "calibration" / calibration_filename(args.recognizer)
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"{len(impostor):,} impostor / {len(genuine):,} genuine pairs, {missing} images without a face, "
          f"{time.time() - started:.0f} s")
    for fmr, threshold, fnmr in zip(fmrs, thresholds, fnmrs):
        print(f"FMR {fmr:8.0e}  threshold {threshold:.4f}  FNMR {fnmr:.4f}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
