"""The whole protection evaluation of several configurations and schemes, as JSON + plots."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from facetrust.evaluation.cache import EmbeddingCache
from facetrust.evaluation.embedder import EvalModel
from facetrust.evaluation.lfw import Pair
from facetrust.privacy.evaluation import (
    BUDGET_ACCURACY, BUDGET_ACCURACY_WORST_KEY, BUDGET_TAR, BUDGET_TAR_WORST_KEY, CROSS_KEY_PAIRS, GRIDS,
    SELECTION_KEYS, TEST_FOLDS, TUNING_FOLDS, SchemeResult, evaluate_scheme, load_pair_data, plain_metrics,
)


def evaluate_protection(pairs: Sequence[Pair], models: Sequence[EvalModel], cache: EmbeddingCache,
                        schemes: Sequence[str] = ("slerp", "biohash"), keys: int = 20, workers: int = 1,
                        report: Path | None = None, ablation: bool = True,
                        progress: bool = True) -> dict[str, Any]:
    """Unprotected vs protected verification, unlinkability, irreversibility, renewability and cost,
    for every configuration x scheme; plots and ``protection.json`` go to ``report`` when given."""
    out: dict[str, Any] = {
        "protocol": {"tuning_folds": [f + 1 for f in TUNING_FOLDS], "test_folds": [f + 1 for f in TEST_FOLDS],
                     "selection_budget": {"accuracy_drop": BUDGET_ACCURACY, "tar_drop": BUDGET_TAR,
                                          "accuracy_drop_worst_key": BUDGET_ACCURACY_WORST_KEY,
                                          "tar_drop_worst_key": BUDGET_TAR_WORST_KEY},
                     "selection_keys": SELECTION_KEYS, "grids": GRIDS, "keys": keys,
                     "cross_key_pairs": CROSS_KEY_PAIRS},
        "configurations": {},
    }
    panels: list[tuple[str, SchemeResult]] = []
    for model in models:
        data = load_pair_data(pairs, model, cache, workers=workers, progress=progress)
        entry: dict[str, Any] = {"images": int(len(data.vectors)), "pairs": int(len(data.same)),
                                 "unprotected": plain_metrics(data), "schemes": {}}
        for scheme in schemes:
            result = evaluate_scheme(data, scheme, keys=keys)
            entry["schemes"][scheme] = {"params": result.params, **result.metrics}
            panels.append((f"{model.recognizer}: {scheme}", result))
        if ablation and "slerp" in schemes:
            params = {**entry["schemes"]["slerp"]["params"], "rotate": False}
            result = evaluate_scheme(data, "slerp", params, keys=keys, attack=False)
            entry["schemes"]["slerp (no rotation)"] = {"params": params, **result.metrics}
            panels.append((f"{model.recognizer}: slerp, no rotation", result))
        out["configurations"][model.label] = entry
    if report is not None:
        from facetrust.privacy.plots import plot_unlinkability

        report.mkdir(parents=True, exist_ok=True)
        out["plot"] = str(plot_unlinkability(panels, report / "protection_unlinkability.png"))
        (report / "protection.json").write_text(json.dumps(out, indent=1) + "\n")
    return out
