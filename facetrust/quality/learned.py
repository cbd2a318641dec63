"""The learned, recognition-aware quality assessor (SDD-FIQA-style labels, small regressor).

SDD-FIQA (Ou et al., CVPR 2021) labels each training image with the
Wasserstein distance between its genuine-similarity and impostor-similarity
distributions under the recognizer: an image whose genuine scores sit far
above its impostor scores is useful for recognition. A regressor then
predicts that label from what is known about one face at run time. Here the
inputs are the explainable components and the face's embedding (which the
pipeline computes anyway), so the assessor costs one small matrix product
beyond the explainable one. The fitted model is shipped as JSON
(``calibration/learned-<recognizer>.json``, written by
:mod:`facetrust.quality.training`) and evaluated here with numpy only.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from facetrust.errors import ConfigError
from facetrust.quality.base import LazyRecognizer, QualityResult
from facetrust.quality.calibration import QualityCalibration, load_quality_calibration, read_calibration_file
from facetrust.quality.components import measure
from facetrust.quality.explainable import rate
from facetrust.types import Detection, Face

#: Component features of the regressor, as (name, transform). face_size_ratio and
#: colourfulness are left out: constant or unavailable on the (grayscale, fixed-frame)
#: LFW training images, so a model could not learn anything true about them.
FEATURES: tuple[tuple[str, str], ...] = (
    ("inter_eye_px", "log"), ("inside_fraction", "identity"), ("yaw_deg", "abs"), ("pitch_deg", "abs"),
    ("roll_deg", "abs"), ("sharpness", "log1p"), ("brightness", "identity"), ("contrast", "identity"),
    ("dark_fraction", "identity"), ("bright_fraction", "identity"), ("illumination_uniformity", "identity"),
)
_TRANSFORMS = {"identity": lambda v: v, "abs": abs, "log": lambda v: math.log(max(v, 1e-6)),
               "log1p": lambda v: math.log1p(max(v, 0.0))}


def component_features(components: dict[str, float | None]) -> np.ndarray:
    """The transformed component features; NaN where a component was not measurable."""
    return np.array([np.nan if components.get(name) is None else _TRANSFORMS[how](components[name])
                     for name, how in FEATURES], dtype=np.float64)


class Regressor:
    """A fitted model as shipped: impute, standardise, then a linear map or a one-hidden-layer ReLU net."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.kind = spec["kind"]
        self.fill = np.asarray(spec["fill"], dtype=np.float64)
        self.mean = np.asarray(spec["mean"], dtype=np.float64)
        self.scale = np.asarray(spec["scale"], dtype=np.float64)
        self.layers = [(np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64)) for w, b in spec["layers"]]
        if self.kind not in ("linear", "mlp"):
            raise ConfigError(f"unknown quality regressor kind {self.kind!r}")

    def predict(self, features: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(features, dtype=np.float64))
        x = np.where(np.isnan(x), self.fill, x)
        x = (x - self.mean) / self.scale
        for i, (weights, bias) in enumerate(self.layers):
            x = x @ weights + bias
            if i < len(self.layers) - 1:
                x = np.maximum(x, 0.0)
        return x[:, 0]


def model_inputs(components: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """Regressor inputs: (n, len(FEATURES)) component features next to (n, dim) embeddings."""
    return np.hstack([np.atleast_2d(components), np.atleast_2d(embeddings)])


class LearnedQuality(LazyRecognizer):
    """Recognition-aware quality for a named recognizer (the one its labels came from)."""

    name = "learned"

    def __init__(self, recognizer: str = "dlib-resnet", detector: str = "dlib-hog", threshold: float | None = None,
                 model: str | Path | None = None) -> None:
        """``model``: a file written by ``facetrust quality train``; default: the shipped model for ``recognizer``."""
        self.detector = detector
        if model is None:
            self.calibration: QualityCalibration = load_quality_calibration(self.name, recognizer)
        else:
            self.calibration = read_calibration_file(model)
            if self.calibration.recognizer != recognizer:
                raise ConfigError(f"{model} was trained for recognizer {self.calibration.recognizer!r}, "
                                  f"not {recognizer!r}")
        if "model" not in self.calibration.extra or self.calibration.method != self.name:
            raise ConfigError(f"{model or recognizer}: not a learned quality model")
        self.recognizer_name = recognizer
        self.regressor = Regressor(self.calibration.extra["model"])
        self.threshold = self.calibration.threshold if threshold is None else float(threshold)

    def score_raw(self, components: dict[str, float | None], embedding: np.ndarray) -> float:
        """The regressor's output (in Wasserstein-label units) for one face."""
        return float(self.regressor.predict(model_inputs(component_features(components), embedding))[0])

    def assess(self, image: np.ndarray, face: Face | Detection) -> QualityResult:
        components = measure(image, face.box, face.landmarks, self.detector)
        embedding = getattr(face, "embedding", None)
        if embedding is None:
            detection = Detection(face.box, face.score, np.asarray(face.landmarks, dtype=np.float32))
            embedding = self.recognizer.embed_aligned([self.recognizer.align(image, detection)])[0]
        expected = len(self.regressor.mean) - len(FEATURES)
        if len(embedding) != expected:
            raise ConfigError(f"the face's embedding has {len(embedding)} values, the learned quality model for "
                              f"{self.recognizer_name} expects {expected}: was it computed by another recognizer?")
        raw = self.score_raw(components, embedding)
        score = float(self.calibration.scale(raw))
        # The explanation comes from the components: the learned score says how bad, they say why.
        explained = rate(components, self.name, self.threshold)
        reasons = explained.reasons if score < self.threshold else ()
        if score < self.threshold and not reasons:
            reasons = ("low recognition utility (no single component explains it)",)
        return QualityResult(score, self.name, self.threshold, {**components, "learned_raw": raw},
                             explained.component_scores, reasons)
