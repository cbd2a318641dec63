"""Fitting the learned quality assessor: SDD-FIQA pseudo labels, a small regressor, a JSON model.

Labels (Ou et al., "SDD-FIQA", CVPR 2021): for each training image, the
1-Wasserstein distance between the distribution of its cosine similarities
to the other images of its identity (genuine) and to images of other
identities (impostor), all under the recognizer the model is for. Only
training identities take part, so evaluation identities stay unseen.
scikit-learn (the ``[test]`` / ``[train]`` extras) is needed here only; the
fitted model is exported to plain arrays that :mod:`facetrust.quality.learned`
evaluates with numpy.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from facetrust.defaults import DEFAULT_FMR
from facetrust.errors import ConfigError

#: Impostor images sampled per training image for its impostor distribution.
IMPOSTOR_SAMPLES = 400


def wasserstein_1d(a: np.ndarray, b: np.ndarray) -> float:
    """1-Wasserstein distance between two empirical 1-D distributions (integral of |F_a - F_b|)."""
    a, b = np.sort(np.asarray(a, np.float64)), np.sort(np.asarray(b, np.float64))
    if len(a) == 0 or len(b) == 0:
        raise ConfigError("Wasserstein distance needs two non-empty samples")
    grid = np.sort(np.concatenate([a, b]))
    cdf_a = np.searchsorted(a, grid[:-1], side="right") / len(a)
    cdf_b = np.searchsorted(b, grid[:-1], side="right") / len(b)
    return float(np.sum(np.abs(cdf_a - cdf_b) * np.diff(grid)))


def sdd_labels(embeddings: np.ndarray, identities: Sequence[Any], seed: int = 0,
               impostor_samples: int = IMPOSTOR_SAMPLES) -> np.ndarray:
    """SDD-FIQA pseudo label of every image; NaN for images whose identity has no other image.

    ``embeddings`` must be L2-normalised (cosine = dot product).
    """
    vectors = np.asarray(embeddings, dtype=np.float32)
    ids = np.asarray([str(i) for i in identities])
    if len(vectors) != len(ids):
        raise ConfigError(f"{len(vectors)} embeddings but {len(ids)} identities")
    rng = np.random.default_rng(seed)
    labels = np.full(len(ids), np.nan)
    members: dict[str, np.ndarray] = {name: np.flatnonzero(ids == name) for name in np.unique(ids)}
    for name, rows in members.items():
        if len(rows) < 2:
            continue
        others = np.flatnonzero(ids != name)
        for row in rows:
            genuine = vectors[rows[rows != row]] @ vectors[row]
            sample = rng.choice(others, size=min(impostor_samples, len(others)), replace=False)
            labels[row] = wasserstein_1d(genuine, vectors[sample] @ vectors[row])
    return labels


@dataclass(frozen=True)
class FittedModel:
    spec: dict[str, Any]  # the JSON-ready model: see facetrust.quality.learned.Regressor
    estimator: Any  # the fitted scikit-learn estimator (on standardised inputs)

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        """Predictions of the exported model (what facetrust.quality.learned will compute)."""
        from facetrust.quality.learned import Regressor

        return Regressor(self.spec).predict(inputs)


def fit_regressor(inputs: np.ndarray, labels: np.ndarray, kind: str = "mlp", seed: int = 0) -> FittedModel:
    """Fit the regressor on rows with a finite label; ``kind`` is "linear" (ridge) or "mlp" (32 ReLU units)."""
    from sklearn.linear_model import RidgeCV
    from sklearn.neural_network import MLPRegressor

    x = np.asarray(inputs, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    keep = np.isfinite(y)
    if keep.sum() < 20:
        raise ConfigError(f"only {int(keep.sum())} labelled training images; need at least 20")
    fill = np.nanmedian(x[keep], axis=0)
    fill = np.where(np.isfinite(fill), fill, 0.0)
    filled = np.where(np.isnan(x), fill, x)
    mean, scale = filled[keep].mean(axis=0), filled[keep].std(axis=0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    z = (filled - mean) / scale
    if kind == "linear":
        model = RidgeCV(alphas=np.logspace(-2, 4, 13)).fit(z[keep], y[keep])
        layers = [(model.coef_.reshape(-1, 1).tolist(), [float(model.intercept_)])]
    elif kind == "mlp":
        model = MLPRegressor(hidden_layer_sizes=(32,), alpha=1e-2, learning_rate_init=1e-3, max_iter=1000,
                             early_stopping=True, validation_fraction=0.15, n_iter_no_change=20, random_state=seed)
        model.fit(z[keep], y[keep])
        layers = [(w.tolist(), b.tolist()) for w, b in zip(model.coefs_, model.intercepts_)]
    else:
        raise ConfigError(f"regressor kind must be 'linear' or 'mlp', got {kind!r}")
    spec = {"kind": kind, "fill": fill.tolist(), "mean": mean.tolist(), "scale": scale.tolist(), "layers": layers}
    return FittedModel(spec, model)


def percentile_grid(values: np.ndarray) -> list[float]:
    """Raw values at the 0th..100th percentiles: the score scale of a percentile-scaled method."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if len(finite) == 0:
        raise ConfigError("no finite values to build a percentile scale from")
    return [round(float(v), 6) for v in np.percentile(finite, np.arange(101))]


def identity_folds(identities: Sequence[str], folds: int = 5, seed: int = 0) -> np.ndarray:
    """A fold number per image such that all images of one identity share a fold."""
    names = np.unique(np.asarray(identities))
    order = np.random.default_rng(seed).permutation(len(names))
    fold_of = {names[i]: k % folds for k, i in enumerate(order)}
    return np.array([fold_of[i] for i in identities])


def train_on_folder(root: Path, config: Any, out: Path, store: Path, kind: str = "linear",
                    inputs: Sequence[str] | None = None, fmr: float = DEFAULT_FMR, workers: int = 1,
                    progress: bool = True) -> dict[str, Any]:
    """Fit a learned quality model on a folder with one sub-folder of images per identity.

    ``inputs``: the model's input groups (:data:`facetrust.quality.learned.INPUT_GROUPS`; default
    :data:`~facetrust.quality.learned.DEFAULT_INPUTS`, the shipped design). Features come from
    :func:`facetrust.quality.dataset.extract_features` under ``config`` (cached in ``store``). The
    score scale and the threshold are derived from identity-disjoint 5-fold out-of-fold predictions
    (an in-sample fit would flatter both); the model written to ``out`` is then fitted on every
    image. Returns the written record.
    """
    import json

    from facetrust.quality.dataset import extract_features
    from facetrust.quality.edc import edc, pair_quality, recommended_cut
    from facetrust.quality.learned import DEFAULT_INPUTS, INPUT_GROUPS
    from facetrust.recognition.calibration import load_calibration

    if kind not in ("linear", "mlp"):
        raise ConfigError(f"regressor kind must be 'linear' or 'mlp', got {kind!r}")
    groups = tuple(DEFAULT_INPUTS if inputs is None else inputs)
    if not groups or set(groups) - set(INPUT_GROUPS):
        raise ConfigError(f"quality model inputs must be some of {list(INPUT_GROUPS)}, got {list(groups)}")
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"{root}: not a folder")
    paths = sorted(p for p in root.glob("*/*") if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".bmp", ".webp"})
    identities = [p.parent.name for p in paths]
    if len(set(identities)) < 10:
        raise ConfigError(f"{root}: need at least 10 identity folders with images, found {len(set(identities))}")
    perturbed = {str(p) for p in paths} if "perturbations" in groups else set()
    table = extract_features(paths, config, store, perturbed, workers=workers, progress=progress)
    face = table.has_inputs(groups)
    ids = np.array(identities)[face]
    vectors = table.embeddings[face]
    inputs_of_faces = table.model_inputs(groups)[face]
    folds = identity_folds(list(ids))
    out_of_fold = np.full(len(ids), np.nan)
    for fold in range(5):
        train = folds != fold
        labels = sdd_labels(vectors[train], ids[train])
        out_of_fold[~train] = fit_regressor(inputs_of_faces[train], labels, kind).predict(inputs_of_faces[~train])
    threshold = load_calibration(config.recognizer).threshold_at(fmr)
    grid = percentile_grid(out_of_fold)
    from facetrust.quality.calibration import QualityCalibration
    from facetrust.quality.explainable import rate
    from facetrust.quality.learned import defect_factor

    # As the assessor scores a face: the percentile, capped by clear component defects.
    defects = np.array([defect_factor(rate(table.component_dict(i), "learned", 0.0)) for i in np.flatnonzero(face)])
    scores = np.asarray(QualityCalibration("learned", config.recognizer, 0.0, "", tuple(grid)).scale(out_of_fold))
    scores = scores * defects
    first, second = np.triu_indices(len(ids), k=1)
    same = ids[first] == ids[second]
    first, second = first[same], second[same]
    if len(first) == 0:
        raise ConfigError(f"{root}: no identity has two images with a face; genuine pairs are needed")
    similarity = np.einsum("nd,nd->n", vectors[first], vectors[second]).astype(np.float64)
    cut, discarded = recommended_cut(edc(similarity, pair_quality(scores[first], scores[second]), threshold))
    fitted = fit_regressor(inputs_of_faces, sdd_labels(vectors, ids), kind)
    record = {
        "method": "learned", "recognizer": config.recognizer, "detector": config.detector,
        "threshold": round(max(cut, 0.0), 2),
        "threshold_rule": (f"EDC rule on the training folder's genuine pairs (out-of-fold scores, FMR {fmr:g}): the "
                           f"highest score whose discarded pairs (at most 20%) have at least twice the starting FNMR; "
                           f"it discarded {discarded:.1%} of them"),
        "raw_quantiles": grid, "model": fitted.spec, "kind": kind, "inputs": list(groups),
        "labels": "SDD-FIQA: 1-Wasserstein distance between genuine and impostor cosine similarity distributions",
        "training_identities": sorted(set(ids.tolist())), "training_images": int(face.sum()),
        "written_by": f"facetrust quality train --root {root}",
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(out.name + ".tmp")
    temporary.write_text(json.dumps(record, indent=1) + "\n")
    temporary.replace(out)
    return record
