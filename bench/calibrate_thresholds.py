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
from facetrust.recognition.calibration import calibrate_scores, calibration_filename, pair_scores  # noqa: E402


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
    record = {
        "recognizer": args.recognizer,
        "detector": args.detector,
        "dataset": f"LFW-a, {len(vectors)} of {len(vectors) + missing} images with a face ({args.select} face per image)",
        **calibrate_scores(impostor, genuine),
        "command": f"python bench/calibrate_thresholds.py --recognizer {args.recognizer} --detector {args.detector} "
                   f"--select {args.select}",
    }
    out = ROOT / "facetrust" / "recognition" / "calibration" / calibration_filename(args.recognizer)
    out.write_text(json.dumps(record, indent=1) + "\n")
    fmrs, thresholds, fnmrs = record["fmr"], record["threshold"], record["fnmr"]
    print(f"{len(impostor):,} impostor / {len(genuine):,} genuine pairs, {missing} images without a face, "
          f"{time.time() - started:.0f} s")
    for fmr, threshold, fnmr in zip(fmrs, thresholds, fnmrs):
        print(f"FMR {fmr:8.0e}  threshold {threshold:.4f}  FNMR {fnmr:.4f}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
