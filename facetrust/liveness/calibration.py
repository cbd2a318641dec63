"""Fitting a liveness model's scores to a deployment's own labelled data.

Every camera, screen and printer differs, so a threshold that works on the
model's training data rarely transfers. :func:`fit_calibration` fits a logistic
regression on the log-odds of each member model's P(live) (for ``minifasnet``:
the two networks), which both fuses the members with learned weights and
calibrates the fused score into a probability, then picks the operating
threshold at a target APCER on the same data. The result is a small JSON file
that :class:`~facetrust.liveness.checker.LivenessChecker` loads.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from facetrust.errors import ConfigError
from facetrust.io.atomic import atomic_file
from facetrust.liveness.metrics import species, threshold_at_apcer

FORMAT = "facetrust-liveness-calibration/1"
_CLIP = 1e-6  # probabilities are clipped to [1e-6, 1 - 1e-6] before the log-odds


def log_odds(probabilities: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(probabilities, dtype=np.float64), _CLIP, 1 - _CLIP)
    return np.log(p / (1 - p))


@dataclass(frozen=True)
class LivenessCalibration:
    """score = sigmoid(bias + sum_i weights[i] * logit(P_live of features[i]))."""

    model: str
    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float
    target_apcer: float
    fitted_on: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def apply(self, model_scores: Mapping[str, float]) -> float:
        missing = [f for f in self.features if f not in model_scores]
        if missing:
            raise ConfigError(f"calibration needs scores of {', '.join(missing)}; got {', '.join(model_scores)}")
        x = log_odds(np.array([model_scores[f] for f in self.features]))
        z = self.bias + float(np.dot(self.weights, x))
        return float(1.0 / (1.0 + math.exp(-z)))

    def to_dict(self) -> dict[str, Any]:
        raw = asdict(self)
        return {"format": FORMAT, **raw, "features": list(self.features), "weights": list(self.weights),
                "notes": list(self.notes)}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the JSON atomically (temporary file in the same folder, then rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path, "w", encoding="utf-8") as stream:
            json.dump(self.to_dict(), stream, indent=1)
            stream.write("\n")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "LivenessCalibration":
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such calibration file") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path}: not a readable calibration file ({exc})") from None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise ConfigError(f"{path}: not a liveness calibration (expected format {FORMAT!r})")
        try:
            calibration = cls(model=str(raw["model"]), features=tuple(raw["features"]),
                              weights=tuple(float(w) for w in raw["weights"]), bias=float(raw["bias"]),
                              threshold=float(raw["threshold"]), target_apcer=float(raw["target_apcer"]),
                              fitted_on=dict(raw.get("fitted_on", {})), notes=tuple(raw.get("notes", ())))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{path}: malformed calibration ({exc})") from None
        if len(calibration.features) != len(calibration.weights) or not calibration.features:
            raise ConfigError(f"{path}: needs one weight per feature")
        return calibration


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, iterations: int = 100) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method: (weights, bias).

    Minimises sum(log-loss) + l2/2 * |weights|^2 (the bias is not penalised), which
    keeps the weights finite on perfectly separable data such as small sets.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    design = np.column_stack([x, np.ones(len(x))])
    penalty = np.diag([l2] * x.shape[1] + [0.0])
    theta = np.zeros(design.shape[1])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(design @ theta)))
        gradient = design.T @ (p - y) + penalty @ theta
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + penalty + 1e-9 * np.eye(len(theta))
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    return theta[:-1], float(theta[-1])


def fit_calibration(model: str, model_scores: Sequence[Mapping[str, float]], bona_fide: Sequence[bool],
                    attack_types: Sequence[str], target_apcer: float = 0.05, l2: float = 1.0,
                    fitted_on: dict[str, Any] | None = None) -> LivenessCalibration:
    """Fit the fusion/calibration on labelled presentations and set the threshold at ``target_apcer``.

    ``model_scores[i]`` are the per-member P(live) of presentation i (``LivenessResult.model_scores``).
    """
    labels = np.asarray(bona_fide, dtype=bool)
    if len(model_scores) != len(labels) or len(labels) != len(attack_types):
        raise ConfigError("model_scores, bona_fide and attack_types need one entry per presentation")
    if labels.all() or not labels.any():
        raise ConfigError("fitting needs both bona fide and attack presentations")
    features = tuple(model_scores[0])
    if any(tuple(s) != features for s in model_scores):
        raise ConfigError("every presentation needs scores of the same member models")
    x = log_odds(np.array([[s[f] for f in features] for s in model_scores]))
    weights, bias = fit_logistic(x, labels, l2=l2)
    calibrated = 1.0 / (1.0 + np.exp(-(x @ weights + bias)))
    types = np.array([str(t) for t in attack_types], dtype=object)
    threshold = threshold_at_apcer(calibrated, labels, types, target_apcer)
    notes = []
    for name in species(labels, types):
        n = int(np.sum(~labels & (types == name)))
        if 0 < target_apcer and target_apcer * n + 1e-9 < 1:
            notes.append(f"only {n} {name} attack(s): APCER {target_apcer:g} cannot be resolved, the threshold "
                         f"rejects every {name} attack of the fitting data")
    info = {"n_bona_fide": int(labels.sum()), "n_attacks": int((~labels).sum()), "l2": l2, **(fitted_on or {})}
    return LivenessCalibration(model, features, tuple(float(w) for w in weights), bias, threshold,
                               float(target_apcer), info, tuple(notes))


def fit_presentations(checker: Any, presentations: Sequence[Any], target_apcer: float = 0.05, l2: float = 1.0,
                      cache: Any = None, fitted_on: dict[str, Any] | None = None,
                      progress: Any = None) -> LivenessCalibration:
    """Score labelled presentations with ``checker`` (uncalibrated) and fit its model's calibration.

    Unlike keeping only presentations with a score, this also uses those whose model
    measured features but has no P(live) yet — the cue models (``moire``,
    ``lbp-colour``) before their first fit. Presentations without features (no face,
    grayscale, too small, cut by the border) are skipped and counted in ``fitted_on``.
    """
    from facetrust.liveness.evaluation import file_digest, score_presentations

    if checker.calibration is not None:
        raise ConfigError("fit with an uncalibrated checker: the features are the model's own scores")
    scored = [s for s in score_presentations(checker, presentations, cache=cache, progress=progress) if s.model_scores]
    if not scored:
        raise ConfigError("no presentation gave the model anything to fit (no face, or every face unavailable)")
    info = {"detector": checker.detector_name, "skipped_no_decision": len(presentations) - len(scored),
            "files_sha256": file_digest(s.presentation.path for s in scored), **(fitted_on or {})}
    return fit_calibration(checker.model_name, [s.model_scores for s in scored],
                           [s.presentation.bona_fide for s in scored], [s.presentation.attack_type for s in scored],
                           target_apcer=target_apcer, l2=l2, fitted_on=info)
