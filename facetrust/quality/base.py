"""The quality-assessor protocol and its result type.

An assessor scores how useful one detected face is for recognition, on a
unified scale of 0 (useless) to 100 (best), and says why a face scores low.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from facetrust.types import Face


@dataclass(frozen=True)
class QualityResult:
    """Quality of one face.

    ``score`` is the unified score in [0, 100], higher = better for
    recognition. ``components`` are the measured values in their own units
    (pixels, degrees, grey levels; None = not measurable, e.g. colour on a
    grayscale image), ``component_scores`` their 0..100 ratings where the
    method rates them, and ``reasons`` short readable defects ("too dark",
    "blurred", …) behind a low score. ``threshold`` is the method's
    recommended acceptance threshold (docs/quality.md says how it was derived).
    """

    score: float
    method: str
    threshold: float
    components: dict[str, float | None] = field(default_factory=dict)
    component_scores: dict[str, float] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()

    @property
    def acceptable(self) -> bool:
        """True when the score reaches the recommended threshold."""
        return self.score >= self.threshold

    def to_dict(self) -> dict[str, Any]:
        def number(value: float | None) -> float | None:
            return None if value is None else round(float(value), 4)

        return {
            "method": self.method,
            "score": round(float(self.score), 2),
            "threshold": round(float(self.threshold), 2),
            "acceptable": self.acceptable,
            "reasons": list(self.reasons),
            "components": {k: number(v) for k, v in self.components.items()},
            "component_scores": {k: round(float(v), 1) for k, v in self.component_scores.items()},
        }


@runtime_checkable
class QualityAssessor(Protocol):
    """Scores faces of an RGB uint8 image; the face needs its box and 5 landmarks.

    Raises :class:`facetrust.errors.FaceQualityError` for a face that cannot
    be assessed (no landmarks, an empty box).
    """

    name: str
    #: Recommended acceptance threshold on the 0..100 score.
    threshold: float

    def assess(self, image: np.ndarray, face: Face) -> QualityResult: ...


class LazyRecognizer:
    """For assessors that embed faces themselves: the recognizer named ``recognizer_name``,
    loaded on first use (an assessor that is never called loads no model)."""

    recognizer_name: str
    _recognizer: Any = None

    @property
    def recognizer(self) -> Any:
        if self._recognizer is None:
            from facetrust.recognition import RECOGNIZERS

            self._recognizer = RECOGNIZERS.create(self.recognizer_name)
        return self._recognizer
