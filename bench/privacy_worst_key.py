"""Worst-key evaluation of template protection for one recognizer (docs/privacy.md, "Results").

1. The selection rule (facetrust.privacy.evaluation.choose_params) picks the parameters on LFW View-2
   folds 1-5 with its own 20 selection keys; every setting it tried is printed and saved.
2. On folds 6-10, each of the 20 test keys gets its accuracy and TAR@FAR=1e-3 drop against the
   unprotected system; the worst, median, best and mean drops are reported (a deployer draws one key,
   so the target must hold for the worst), with unlinkability D<->sys, renewability AUC and the
   inversion attacks of evaluate_scheme.
3. Whether the chosen parameters equal the shipped default (facetrust/privacy/calibration.json); the
   default is only changed by `bench/privacy_calibration.py thresholds RECOGNIZER`, which applies the
   same rule. When they differ, the default's per-key drops on folds 6-10 are printed too (reference).

All LFW pair images are embedded (or read from the evaluation cache, ~/.cache/facetrust/embeddings.sqlite).

    python bench/privacy_worst_key.py [RECOGNIZER] [SCHEME]     # default: edgeface-xs slerp
"""
from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

from common import LFW_PAIRS, LFW_ROOT, RESULTS
from privacy_calibration import CONFIGURATIONS
from facetrust.evaluation.cache import EmbeddingCache
from facetrust.evaluation.embedder import EvalModel
from facetrust.evaluation.lfw import LFW_FALLBACK_BOX, read_lfw_pairs
from facetrust.privacy.evaluation import (
    TEST_FOLDS, _protect_with, _verification, choose_params, eval_key, evaluate_scheme, load_pair_data, plain_metrics,
)
from facetrust.privacy.gallery import calibrated_params

TEST_KEYS = 20


def spread(plain: float, per_key: list[float]) -> dict[str, float]:
    """Drops in points (plain - protected) over keys: worst (largest), median, best, mean."""
    drops = 100 * (plain - np.asarray(per_key, dtype=float))
    return {"worst": float(drops.max()), "median": float(np.median(drops)), "best": float(drops.min()),
            "mean": float(drops.mean())}


def per_key(data, scheme: str, params: dict) -> tuple[list[float], list[float]]:
    runs = [_verification(data, _protect_with(scheme, eval_key(k), data, params), TEST_FOLDS) for k in range(TEST_KEYS)]
    return [r["accuracy"] for r in runs], [r["tar_at_far_1e-3"] for r in runs]


def main(recognizer: str, scheme: str) -> None:
    detector = dict((r, d) for d, r in CONFIGURATIONS)[recognizer]
    print("load average", os.getloadavg(), flush=True)
    model = EvalModel(detector, recognizer, fallback_box=LFW_FALLBACK_BOX)
    with EmbeddingCache() as cache:
        data = load_pair_data(read_lfw_pairs(LFW_PAIRS, LFW_ROOT), model, cache, workers=1, progress=True)
    print(f"{model.label}: {len(data.vectors)} images, {len(data.same)} pairs", flush=True)
    started = time.perf_counter()
    trace: list[dict] = []
    chosen = choose_params(scheme, data, trace=trace)
    for tried in trace:
        print(" tried", json.dumps(tried), flush=True)
    print("chosen on folds 1-5:", chosen, f"({time.perf_counter() - started:.0f} s)", "load", os.getloadavg(), flush=True)
    default = {k: v for k, v in calibrated_params(recognizer, scheme).items() if k in chosen}
    plain = plain_metrics(data)
    result = evaluate_scheme(data, scheme, chosen, keys=TEST_KEYS)
    metrics = result.metrics
    report = {
        "recognizer": recognizer, "scheme": scheme, "pairs": int(len(data.same)), "chosen": chosen,
        "shipped_default": default, "default_matches_rule": default == chosen, "selection_trace": trace,
        "unprotected": plain, "test_keys": TEST_KEYS,
        "accuracy_drop_points": spread(plain["accuracy"], metrics["accuracy_per_key"]),
        "tar_drop_points": None if plain["tar_at_far_1e-3"] is None
        else spread(plain["tar_at_far_1e-3"], metrics["tar_at_far_1e-3_per_key"]),
        "metrics": metrics,
    }
    if default and default != chosen:
        accuracy, tar = per_key(data, scheme, default)
        report["shipped_default_on_test_folds"] = {
            "params": default, "accuracy_drop_points": spread(plain["accuracy"], accuracy),
            "tar_drop_points": None if plain["tar_at_far_1e-3"] is None else spread(plain["tar_at_far_1e-3"], tar)}
    report["load_average_end"] = os.getloadavg()
    report["seconds"] = time.perf_counter() - started
    print(json.dumps({k: v for k, v in report.items() if k != "selection_trace"}, indent=1, default=float), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"privacy_worst_key_{recognizer}_{scheme}.json").write_text(json.dumps(report, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "edgeface-xs", sys.argv[2] if len(sys.argv) > 2 else "slerp")
