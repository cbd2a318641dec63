"""The learned, recognition-aware quality assessor (SDD-FIQA-style labels, small regressor).

SDD-FIQA (Ou et al., CVPR 2021) labels each training image with the
Wasserstein distance between its genuine-similarity and impostor-similarity
distributions under the recognizer: an image whose genuine scores sit far
above its impostor scores is useful for recognition. A regressor then
predicts that label from what is known about one face at run time: the
groups of inputs named in the model file (:data:`INPUT_GROUPS`) — the
explainable components, the detector's score, the perturbation features of
:mod:`facetrust.quality.perturbation` (3 extra embeddings) and the face's
embedding. The fitted model is shipped as JSON
(``calibration/learned-<recognizer>.json``, written by
``bench/quality_edc.py`` or :mod:`facetrust.quality.training`) and evaluated
here with numpy only.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from facetrust.defaults import DEFAULT_DETECTOR, DEFAULT_RECOGNIZER
from facetrust.detection.landmarks import nose_point_of
from facetrust.errors import ConfigError
from facetrust.quality.base import LazyRecognizer, QualityResult
from facetrust.quality.calibration import QualityCalibration, load_quality_calibration, read_calibration_file
from facetrust.quality.components import measure
from facetrust.quality.explainable import REASON_BELOW, rate
from facetrust.quality.perturbation import PERTURBATION_NAMES, perturbation_features
from facetrust.registry import Option
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


def defect_factor(explained: QualityResult) -> float:
    """How much a clear defect caps the learned score: 1 while every rated component is at or
    above :data:`~facetrust.quality.explainable.REASON_BELOW` (halfway between "95%" and "50% of
    matches kept" in the degradation study), falling linearly to 0 at a component's "bad" end;
    0 for a face mostly outside the image.

    LFW, the training data, has almost no dark, blurred or tiny faces, so the regressor cannot
    learn what such defects do; the degradation study measured it, and this cap carries it over.
    """
    if explained.score == 0.0 and not explained.component_scores:
        return 0.0
    worst = min(explained.component_scores.values(), default=100.0) / 100.0
    return float(min(1.0, worst / REASON_BELOW))


def perturbation_inputs(perturbations: np.ndarray) -> np.ndarray:
    """(n, 4) perturbation features as regressor inputs (NaN stays NaN): the three cosines sit just
    below 1, so their distance from 1 is taken on a log scale; the landmark spread is log-scaled too."""
    values = np.atleast_2d(np.asarray(perturbations, dtype=np.float64))
    cosine_gaps = np.clip(1.0 - values[:, :3], 0.0, None)
    spread = np.clip(values[:, 3:], 0.0, None)
    return np.log(np.hstack([cosine_gaps, spread]) + 1e-4)


#: The input groups a model can use, in the order they are stacked, with their feature names
#: (the embedding's width is the recognizer's dimension).
GROUP_FEATURES: dict[str, tuple[str, ...]] = {
    "components": tuple(name for name, _ in FEATURES), "detector_score": ("detector_score",),
    "perturbations": PERTURBATION_NAMES, "embedding": ("embedding",),
}
INPUT_GROUPS: tuple[str, ...] = tuple(GROUP_FEATURES)
#: The shipped model's design (chosen on LFW folds 1-5 by bench/quality_edc.py) and the default of
#: ``facetrust quality train``.
DEFAULT_INPUTS: tuple[str, ...] = ("components", "detector_score", "perturbations")


def feature_names(groups: Sequence[str]) -> list[str]:
    """Names of the regressor's inputs for ``groups``, in stacking order ("embedding" stands for all its values)."""
    return [name for group in INPUT_GROUPS if group in groups for name in GROUP_FEATURES[group]]


def scores_of(detector: str) -> str:
    """The detector whose boxes and scores ``detector`` reports: its class's declared
    ``boxes_and_scores_of`` (e.g. ``yunet-retinaface`` reports YuNet's unchanged), else itself."""
    from facetrust.detection import DETECTORS

    try:
        return str(getattr(DETECTORS.get_class(detector), "boxes_and_scores_of", None) or detector)
    except ConfigError:
        return detector  # not registered here (e.g. a model file's record): only its own name says


def model_trained_for_other_detector(extra: dict[str, Any], detector: str) -> str | None:
    """The detector a model was fitted on when it reads detector scores and ``detector`` reports
    another one's (scores have each detector's own scale, so such a model cannot read them), else None."""
    trained_with = extra.get("detector")
    if "detector_score" in extra.get("inputs", ()) and trained_with is not None and \
            scores_of(str(trained_with)) != scores_of(detector):
        return str(trained_with)
    return None


def model_inputs(groups: Sequence[str], components: np.ndarray, embeddings: np.ndarray,
                 detector_scores: np.ndarray | None = None, perturbations: np.ndarray | None = None) -> np.ndarray:
    """Regressor inputs of ``groups`` (a subset of :data:`INPUT_GROUPS`, stacked in that order)."""
    unknown = set(groups) - set(INPUT_GROUPS)
    if unknown:
        raise ConfigError(f"unknown quality model inputs {sorted(unknown)}; known: {list(INPUT_GROUPS)}")
    components = np.atleast_2d(components)
    parts = {"components": lambda: components,
             "embedding": lambda: np.atleast_2d(embeddings),
             "detector_score": lambda: np.asarray(detector_scores, dtype=np.float64).reshape(-1, 1),
             "perturbations": lambda: perturbation_inputs(perturbations)}
    return np.hstack([parts[name]() for name in INPUT_GROUPS if name in groups])


class LearnedQuality(LazyRecognizer):
    """Recognition-aware quality for a named recognizer (the one its labels came from)."""

    name = "learned"
    OPTIONS: ClassVar[dict[str, Option]] = {"recognizer": Option(str), "detector": Option(str),
                                            "threshold": Option(float, 0.0, optional=True),
                                            "model": Option(os.PathLike, optional=True)}

    def __init__(self, recognizer: str = DEFAULT_RECOGNIZER, detector: str = DEFAULT_DETECTOR, threshold: float | None = None,
                 model: str | Path | None = None) -> None:
        """``model``: a file written by ``facetrust quality train``; default: the shipped model for ``recognizer``."""
        nose_point_of(detector)  # a detector that does not say which nose point it gives fails here
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
        trained_with = model_trained_for_other_detector(self.calibration.extra, detector)
        if trained_with:
            raise ConfigError(f"{model or 'the shipped learned quality model'} was trained on {trained_with!r} "
                              f"detector scores, not {detector!r}; use method 'explainable' or train one "
                              f"(facetrust quality train)")

    def _embedding_dim(self) -> int:
        if "embedding" not in self.inputs:
            return int(self.recognizer.dim)
        return len(self.regressor.mean) - len(feature_names([g for g in self.inputs if g != "embedding"]))

    @property
    def inputs(self) -> tuple[str, ...]:
        """The input groups of the model; version-1 files (no list) used components + embedding."""
        return tuple(self.calibration.extra.get("inputs", ("components", "embedding")))

    def assess(self, image: np.ndarray, face: Face | Detection) -> QualityResult:
        components = measure(image, face.box, face.landmarks, self.detector)
        embedding = getattr(face, "embedding", None)
        detection = Detection(face.box, face.score, np.asarray(face.landmarks, dtype=np.float32))
        if embedding is not None and len(embedding) != self._embedding_dim():
            raise ConfigError(f"the face's embedding has {len(embedding)} values, the learned quality model for "
                              f"{self.recognizer_name} expects {self._embedding_dim()}: was it computed by another "
                              f"recognizer?")
        perturbations = None
        if "perturbations" in self.inputs:
            embedding, perturbations = perturbation_features(self.recognizer, image, detection, embedding=embedding)
        elif embedding is None:
            embedding = self.recognizer.embed_aligned([self.recognizer.align(image, detection)])[0]
        raw = float(self.regressor.predict(model_inputs(self.inputs, component_features(components), embedding,
                                                        [face.score], perturbations))[0])
        # The explanation comes from the components: the learned score says how bad, they say why.
        explained = rate(components, self.name, self.threshold)
        score = float(self.calibration.scale(raw)) * defect_factor(explained)
        reasons = explained.reasons if score < self.threshold else ()
        if score < self.threshold and not reasons:
            reasons = ("low recognition utility (no single component explains it)",)
        extra = {} if perturbations is None else {
            name: float(v) for name, v in zip(PERTURBATION_NAMES, perturbations)}
        return QualityResult(score, self.name, self.threshold, {**components, **extra, "learned_raw": raw},
                             explained.component_scores, reasons)
