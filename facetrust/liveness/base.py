"""The liveness-model protocol and the typed results of a liveness check.

Scores are probabilities that the face is a **live person** (bona fide
presentation): higher = more live. A face is accepted as live when
``score >= threshold`` (ties are accepted), the same convention as the
verification metrics.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, Sequence, runtime_checkable

import numpy as np

from facetrust.reasons import ReasonCode
from facetrust.types import Face, ScoredDecision

Box = Sequence[float]  # (x1, y1, x2, y2) in pixels
LivenessStatus = Literal["live", "spoof", "unavailable"]


@dataclass(frozen=True)
class LivenessScores:
    """What a model says about one face: P(live) and, for fused models, each member's P(live).

    Cue models (``moire``, ``lbp-colour``) measure features, not probabilities: their
    ``score`` is None and ``model_scores`` holds the features (each in [0, 1]) until a
    calibration fitted on labelled data maps them to P(live).
    """

    score: float | None
    model_scores: dict[str, float]


@runtime_checkable
class LivenessModel(Protocol):
    """Scores one face of an RGB uint8 image, given its detection box.

    ``scales`` are the factors by which the model's crops enlarge the face box
    (the checker needs them to judge whether a face is large enough).
    """

    name: str
    scales: tuple[float, ...]
    #: Zoo manifest entries the model loads (``()`` = none).
    zoo_models: tuple[str, ...]

    def predict(self, image: np.ndarray, box: Box) -> LivenessScores: ...


@dataclass(frozen=True)
class LivenessResult(ScoredDecision):
    """The liveness decision for one face.

    ``status`` is ``"unavailable"`` when no reliable decision can be made (grayscale
    image, face too small, tight face crop, face cut by the image border); then ``score`` is None,
    ``reason`` says why, ``reason_code`` says it for programs (:mod:`facetrust.reasons`), and
    ``is_live`` is None (unknown) — never a made-up score.
    """

    status: LivenessStatus
    model_scores: dict[str, float] = field(default_factory=dict)
    reason: str | None = None
    reason_code: ReasonCode | None = None

    @property
    def is_live(self) -> bool | None:
        return self._is("live")

    def to_dict(self) -> dict[str, Any]:
        out = self._decision_dict("is_live", self.is_live)
        out["model_scores"] = {name: round(float(v), 6) for name, v in self.model_scores.items()}
        if self.reason:
            out["reason"] = self.reason
        if self.reason_code:
            out["reason_code"] = self.reason_code
        return out


@dataclass(frozen=True)
class FaceLiveness:
    """A detected face with its liveness result."""

    face: Face
    result: LivenessResult

    def to_dict(self) -> dict[str, Any]:
        return {**self.face.to_dict(include_embedding=False), "liveness": self.result.to_dict()}
