"""The forgery-detector protocol and the typed results of a forgery check.

Scores are probabilities that a face is **manipulated** (face swap, reenactment,
blended): higher = more likely fake. A face is judged fake when
``score >= threshold`` (ties are fake). Detectors whose native output means
"real" (MesoNet) are flipped to this convention inside their implementation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from facetrust.reasons import ReasonCode
from facetrust.types import Face, ScoredDecision

ForgeryStatus = Literal["real", "fake", "unavailable"]


@dataclass(frozen=True)
class ForgeryScores:
    """What a detector says about one face.

    ``heatmap`` (optional) is the suspected manipulated region over the detector's
    ``crop_size`` x ``crop_size`` crop, values in [0, 1], at any grid size;
    ``crop_to_image`` is the 2x3 affine map from crop pixel coordinates to image pixel
    coordinates, so the heat map can be placed on the image. ``model_scores``: for a
    detector that combines others (``fusion``), each member's P(fake).
    """

    score: float
    heatmap: np.ndarray | None = None
    crop_to_image: np.ndarray | None = None
    crop_size: int = 0
    model_scores: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class ForgeryDetector(Protocol):
    """Scores one face of an RGB uint8 image from its 5 landmarks (``LANDMARK_ORDER``).

    Besides ``zoo_models``, a class declares the sha256 of weights it ships inside facetrust
    (``packaged_sha256``) and, when it combines other registered detectors, their names
    (``default_members``): :func:`facetrust.forensics.cache.detector_version` keys cached
    scores by all of them.
    """

    name: str
    #: Zoo manifest entries the detector loads (``()`` = none).
    zoo_models: tuple[str, ...]

    def predict(self, image: np.ndarray, landmarks: np.ndarray) -> ForgeryScores: ...


@dataclass(frozen=True)
class ForgeryResult(ScoredDecision):
    """The forgery decision for one face.

    ``status`` is ``"unavailable"`` when no reliable decision can be made (face too
    small, no landmarks, gray, a tight crop); then ``score`` is None, ``reason`` says why and
    ``reason_code`` says it for programs (:mod:`facetrust.reasons`) — never a made-up score.
    ``region`` is the image-space box (x1, y1, x2, y2) of the heat map's suspected region
    (heat >= 0.5), when the detector localises and found one.
    ``model_scores``: P(fake) per model (each member of a fusion; the detector itself
    otherwise), as liveness reports them; empty when unavailable.
    """

    status: ForgeryStatus
    reason: str | None = None
    heatmap: np.ndarray | None = field(default=None, repr=False, compare=False)
    crop_to_image: np.ndarray | None = field(default=None, repr=False, compare=False)
    crop_size: int = 0
    region: tuple[float, float, float, float] | None = None
    model_scores: dict[str, float] = field(default_factory=dict)
    reason_code: ReasonCode | None = None

    @property
    def is_fake(self) -> bool | None:
        """None when unavailable: unknown is not "real"."""
        return self._is("fake")

    def to_dict(self) -> dict[str, Any]:
        out = self._decision_dict("is_fake", self.is_fake)
        out["model_scores"] = {name: round(float(v), 6) for name, v in self.model_scores.items()}
        if self.region is not None:
            out["region"] = [round(float(v), 1) for v in self.region]
        if self.reason:
            out["reason"] = self.reason
        if self.reason_code:
            out["reason_code"] = self.reason_code
        return out


@dataclass(frozen=True)
class FaceForgery:
    """A detected face with its forgery result."""

    face: Face
    result: ForgeryResult

    def to_dict(self) -> dict[str, Any]:
        return {**self.face.to_dict(include_embedding=False), "forgery": self.result.to_dict()}
