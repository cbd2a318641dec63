"""The selection grid behind the chosen parameters: accuracy and TAR@FAR=1e-3 drops on LFW folds 1-5 (3 keys).

    python bench/privacy_grid.py [RECOGNIZER]
"""
from __future__ import annotations

import sys

import numpy as np

from common import LFW_PAIRS, LFW_ROOT
from privacy_calibration import CONFIGURATIONS, cached_pairs
from facetrust.evaluation.cache import EmbeddingCache
from facetrust.evaluation.embedder import EvalModel
from facetrust.evaluation.lfw import LFW_FALLBACK_BOX, read_lfw_pairs
from facetrust.privacy.evaluation import GRIDS, TUNING_FOLDS, _protect_with, _verification, eval_key, load_pair_data


def main(only: str) -> None:
    pairs = read_lfw_pairs(LFW_PAIRS, LFW_ROOT)
    detector = dict((r, d) for d, r in CONFIGURATIONS)[only]
    model = EvalModel(detector, only, fallback_box=LFW_FALLBACK_BOX)
    with EmbeddingCache() as cache:
        data = load_pair_data(cached_pairs(pairs, model, cache), model, cache, progress=False)
    plain = _verification(data, lambda v: v, TUNING_FOLDS)
    print("unprotected", plain)
    for scheme, grid in GRIDS.items():
        for params in grid:
            runs = [_verification(data, _protect_with(scheme, eval_key(k), data, params), TUNING_FOLDS) for k in range(3)]
            drop_acc = 100 * (plain["accuracy"] - np.mean([r["accuracy"] for r in runs]))
            drop_tar = 100 * (plain["tar_at_far_1e-3"] - np.mean([r["tar_at_far_1e-3"] for r in runs]))
            print(f"{scheme} {params} accuracy drop {drop_acc:+.2f} pt, TAR drop {drop_tar:+.2f} pt", flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "dlib-resnet")
