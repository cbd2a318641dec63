"""The explainable quality assessor: measured components, each rated by a documented ramp.

No model is involved. Each rated component maps to 0..1 by a linear ramp
between a *bad* value (rating 0) and a *good* value (rating 1); the unified
score is 100 x the product of the ratings, so one severe defect is enough to
fail a face, and the reasons name every component rated below 0.5. The ramp
ends come from a degradation study on the LFW training folds (how far a
component can fall before dlib-resnet's genuine pairs stop matching at FMR
1e-3), not from the evaluation folds.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from facetrust.defaults import DEFAULT_DETECTOR
from facetrust.detection.landmarks import nose_point_of
from facetrust.pose.components import PoseComponents
from facetrust.quality.base import QualityResult
from facetrust.quality.calibration import load_quality_calibration
from facetrust.quality.components import measure
from facetrust.registry import Option
from facetrust.types import Detection, Face


@dataclass(frozen=True)
class Ramp:
    """Rating 0 at ``bad``, 1 at ``good``, linear between (either direction); applied to |value| if ``absolute``."""

    component: str
    bad: float
    good: float
    reason: str
    absolute: bool = False

    def rate(self, value: float) -> float:
        value = abs(value) if self.absolute else value
        return float(np.clip((value - self.bad) / (self.good - self.bad), 0.0, 1.0))


#: Rated components. The ends come from bench/quality_degradation.py (docs/quality.md):
#: "good" = the measured value at which 95% of genuine LFW training pairs that
#: dlib-resnet matched still match after degrading one image, "bad" = where 50% do.
#: Pose cannot be changed synthetically in a 2-D photo; its ramps start ("good") at the
#: largest estimated angle up to which the genuine training pairs showed no loss of
#: matches (|yaw| 60, |pitch| 45 degrees; LFW-a is aligned for roll, so roll's 45 is a
#: convention) and end ("bad") at 90 degrees, where the 5 landmarks no longer describe a
#: frontal face. face_size_ratio, colourfulness and the clipped-pixel fractions are reported
#: but not rated: the first two do not limit recognition by themselves, the last two
#: are covered by the brightness ramps.
RAMPS: tuple[Ramp, ...] = (
    Ramp("inter_eye_px", 7.5, 16.0, "too small"),
    Ramp("inside_fraction", 0.55, 0.8, "cut by the image border"),
    Ramp("yaw_deg", 90.0, 60.0, "turned sideways", absolute=True),
    Ramp("pitch_deg", 90.0, 45.0, "tilted up or down", absolute=True),
    Ramp("roll_deg", 90.0, 45.0, "head tilted sideways", absolute=True),
    Ramp("sharpness", 5.0, 55.0, "blurred"),
    Ramp("brightness", 12.0, 30.0, "too dark"),
    Ramp("brightness", 235.0, 170.0, "too bright"),
    Ramp("contrast", 3.0, 7.5, "low contrast"),
    Ramp("illumination_uniformity", 0.26, 0.5, "uneven lighting"),
)
REASON_BELOW = 0.5


class ExplainableQuality:
    """Image-based quality from size, framing, pose, sharpness and exposure; no model needed."""

    name = "explainable"
    OPTIONS: ClassVar[dict[str, Option]] = {"detector": Option(str), "threshold": Option(float, 0.0, optional=True),
                                            "pose": Option(str, optional=True)}

    def __init__(self, detector: str = DEFAULT_DETECTOR, threshold: float | None = None,
                 pose: str | None = None) -> None:
        """``pose``: a pose estimator (facetrust.pose) whose yaw, pitch and roll replace the 5-point
        geometry's; None or "pose-5pt": the 5-point geometry the ramps and threshold were measured with."""
        nose_point_of(detector)  # a detector that does not say which nose point it gives fails here
        self.detector = detector
        self.threshold = load_quality_calibration(self.name).threshold if threshold is None else float(threshold)
        self.pose = None if pose in (None, "pose-5pt") else PoseComponents(pose)

    def assess(self, image: np.ndarray, face: Face | Detection) -> QualityResult:
        components = measure(image, face.box, face.landmarks, self.detector)
        if self.pose is not None:
            components.update(self.pose(image, face))
        return rate(components, self.name, self.threshold)


def rate(components: dict[str, float | None], method: str, threshold: float) -> QualityResult:
    """Unified score and reasons from measured components (unmeasurable ones are not rated)."""
    ratings: dict[str, float] = {}
    reasons: list[str] = []
    for ramp in RAMPS:
        value = components.get(ramp.component)
        if value is None:
            continue
        rating = ramp.rate(value)
        # Two ramps (dark / bright) share 'brightness': keep the worse rating.
        ratings[ramp.component] = min(ratings.get(ramp.component, 1.0), rating)
        if rating < REASON_BELOW:
            reasons.append(ramp.reason)
    score = 100.0 * float(np.prod(list(ratings.values()))) if ratings else 0.0
    if components.get("sharpness") is None:
        reasons.append("face region mostly outside the image")
        score = 0.0
    return QualityResult(score, method, threshold, dict(components),
                         {k: 100.0 * v for k, v in ratings.items()}, tuple(reasons))
