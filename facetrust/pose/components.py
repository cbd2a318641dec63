"""Head-pose quality components (``yaw_deg``, ``pitch_deg``, ``roll_deg``) from a pose estimator,
for the explainable quality assessor in place of its 5-point geometry (docs/quality.md, docs/pose.md)."""
from __future__ import annotations

from typing import Any

import numpy as np

from facetrust.errors import PoseError
from facetrust.types import Detection, Face

POSE_COMPONENTS = ("yaw_deg", "pitch_deg", "roll_deg")


class PoseComponents:
    """The pose components of one estimator; a face that already carries that estimator's ``pose``
    check result is not estimated again. A face the estimator cannot judge gets None (not measured)."""

    def __init__(self, estimator: str, device: str = "cpu") -> None:
        from facetrust.pose import POSE_ESTIMATORS

        POSE_ESTIMATORS.get_class(estimator)  # ConfigError for an unknown name, before any model loads
        self.name = estimator
        self.device = device
        self._estimator: Any = None

    @property
    def estimator(self) -> Any:
        if self._estimator is None:
            from facetrust.analyzer import _create
            from facetrust.pose import POSE_ESTIMATORS

            self._estimator = _create(POSE_ESTIMATORS, self.name, {}, self.device)
        return self._estimator

    def __call__(self, image: np.ndarray, face: Face | Detection) -> dict[str, float | None]:
        known = getattr(face, "extras", {}).get("pose")
        if isinstance(known, dict) and known.get("status") == "ok" and known.get("model") == self.name:
            return {f"{angle}_deg": float(known[angle]) for angle in ("yaw", "pitch", "roll")}
        try:
            pose = self.estimator.estimate(image, face)
        except PoseError:
            return dict.fromkeys(POSE_COMPONENTS)
        return {"yaw_deg": pose.yaw, "pitch_deg": pose.pitch, "roll_deg": pose.roll}
