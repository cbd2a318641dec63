"""Which learned-quality design? Inner cross-fitting on LFW side A only (folds 1-5).

    python bench/quality_variants.py          # reads the feature cache of bench/quality_edc.py

Every variant is fitted on 4 of the 5 side-A folds and scores the 5th (identities
never cross folds); the pAUC-EDC (0-20% discard, dlib-resnet at FMR 1e-3, pair
quality = min) of those out-of-fold scores over side A's 1,500 genuine pairs is
printed next to the training-free measures. Side B (folds 6-10) is not touched:
it stays the held-out test of bench/quality_edc.py. Variants:

* inputs: components, detector score, embedding, embedding stability (only
  computed for the images bench/quality_edc.py perturbs, so those variants train on fewer images);
* regressor: ridge (shipped), gradient-boosted trees, the 32-unit MLP;
* labels: SDD-FIQA (shipped) or, for comparison, the mean / min genuine similarity.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality_edc import SIDE_A, curve_for, genuine_arrays, lfw_features  # noqa: E402

from facetrust.quality.edc import random_pauc  # noqa: E402
from facetrust.quality.explainable import rate  # noqa: E402
from facetrust.quality.learned import component_features  # noqa: E402
from facetrust.quality.training import fit_regressor, sdd_labels  # noqa: E402
from facetrust.recognition.calibration import load_calibration  # noqa: E402

Fit = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def ridge(x: np.ndarray, y: np.ndarray, x_new: np.ndarray) -> np.ndarray:
    return fit_regressor(x, y, "linear").predict(x_new)


def mlp(x: np.ndarray, y: np.ndarray, x_new: np.ndarray) -> np.ndarray:
    return fit_regressor(x, y, "mlp").predict(x_new)


def boosted(x: np.ndarray, y: np.ndarray, x_new: np.ndarray) -> np.ndarray:
    from sklearn.ensemble import HistGradientBoostingRegressor

    keep = np.isfinite(y)
    model = HistGradientBoostingRegressor(max_iter=300, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=40,
                                          random_state=0)
    return model.fit(x[keep], y[keep]).predict(x_new)


def similarity_labels(vectors: np.ndarray, ids: np.ndarray, reduce: Callable[[np.ndarray], float]) -> np.ndarray:
    """``reduce`` of each image's genuine similarities (NaN for single-image identities)."""
    labels = np.full(len(ids), np.nan)
    for name in np.unique(ids):
        rows = np.flatnonzero(ids == name)
        if len(rows) < 2:
            continue
        similarity = vectors[rows] @ vectors[rows].T
        for j, row in enumerate(rows):
            labels[row] = reduce(np.delete(similarity[j], j))
    return labels


def main() -> None:
    started = time.time()
    table, pairs, fold_of, identity = lfw_features(workers=2)
    threshold = load_calibration("dlib-resnet").threshold_at(1e-3)
    ids = np.array([identity[p] for p in table.paths])
    fold = np.array([fold_of[i] for i in ids])
    similarity, rows_a, rows_b = genuine_arrays(table, pairs, SIDE_A)
    random = random_pauc(float(np.mean(similarity < threshold)))

    def pauc(per_image: np.ndarray) -> float:
        return curve_for(per_image, similarity, rows_a, rows_b, threshold).pauc()

    components = np.stack([component_features(table.component_dict(i)) for i in range(len(ids))])
    detector_score = table.detector_score[:, None]
    stability = table.stability[:, None]
    inputs = {
        "components + embedding (shipped)": np.hstack([components, table.embeddings]),
        "components": components,
        "embedding": table.embeddings,
        "components + detector score": np.hstack([components, detector_score]),
        "components + embedding + detector score": np.hstack([components, table.embeddings, detector_score]),
        "components + stability": np.hstack([components, stability]),
        "components + detector score + stability": np.hstack([components, detector_score, stability]),
        "components + embedding + stability": np.hstack([components, table.embeddings, stability]),
    }
    label_kinds = {"SDD-FIQA": sdd_labels,
                   "mean genuine similarity": lambda v, i: similarity_labels(v, i, np.mean),
                   "min genuine similarity": lambda v, i: similarity_labels(v, i, np.min)}
    labels: dict[tuple[str, int], np.ndarray] = {}

    def out_of_fold(x: np.ndarray, fit: Fit, label_kind: str, uses_stability: bool = False) -> np.ndarray:
        # Stability exists only for the perturbed images: variants using it train on those.
        has_inputs = np.isfinite(table.stability) if uses_stability else np.ones(len(ids), bool)
        predicted = np.full(len(ids), np.nan)
        for held in sorted(SIDE_A):
            train = table.has_face & np.isin(fold, sorted(SIDE_A - {held}))
            if (label_kind, held) not in labels:
                labels[label_kind, held] = np.full(len(ids), np.nan)
                labels[label_kind, held][train] = label_kinds[label_kind](table.embeddings[train], ids[train])
            usable = train & has_inputs
            predicted[fold == held] = fit(x[usable], labels[label_kind, held][usable], x[fold == held])
        return predicted

    rows = {"random discard (expected)": random,
            "stability (training-free)": pauc(table.stability),
            "explainable": pauc(np.array([rate(table.component_dict(i), "explainable", 0.0).score
                                          if table.has_face[i] else 0.0 for i in range(len(ids))]))}
    for name, x in inputs.items():
        rows[f"ridge, SDD-FIQA: {name}"] = pauc(out_of_fold(x, ridge, "SDD-FIQA", "stability" in name))
    rows["MLP, SDD-FIQA: components + embedding"] = pauc(out_of_fold(inputs["components + embedding (shipped)"], mlp,
                                                                      "SDD-FIQA"))
    for name in ("components + detector score", "components + embedding + detector score"):
        rows[f"boosted trees, SDD-FIQA: {name}"] = pauc(out_of_fold(inputs[name], boosted, "SDD-FIQA"))
    for kind in ("mean genuine similarity", "min genuine similarity"):
        rows[f"ridge, {kind}: components + detector score"] = pauc(
            out_of_fold(inputs["components + detector score"], ridge, kind))
    print(f"\nLFW side A (folds 1-5), inner cross-fitted: {len(similarity)} genuine pairs, "
          f"FNMR {np.mean(similarity < threshold):.4f}")
    print("| variant | pAUC-EDC (0-20%) | vs random |\n|---|---|---|")
    for name, value in sorted(rows.items(), key=lambda item: item[1]):
        print(f"| {name} | {value:.5f} | {value / random - 1:+.1%} |")
    print(f"done in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
