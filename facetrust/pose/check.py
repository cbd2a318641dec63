"""The ``pose`` face check (:mod:`facetrust.checks`): yaw, pitch and roll of every face."""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from facetrust.errors import PoseError
from facetrust.registry import Option
from facetrust.types import Face


class PoseCheck:
    name = "pose"
    OPTIONS: ClassVar[dict[str, Option]] = {"estimator": Option(str, optional=True)}

    def __init__(self, analyzer: Any, estimator: str | None = None) -> None:
        from facetrust.analyzer import _create
        from facetrust.pose import DEFAULT_POSE_ESTIMATOR, POSE_ESTIMATORS

        self.estimator_name = estimator or DEFAULT_POSE_ESTIMATOR
        cls = POSE_ESTIMATORS.get_class(self.estimator_name)
        # pose-5pt reads the analyzer's landmarks: it needs to know whose they are.
        options = {"detector": analyzer.config.detector} if "detector" in getattr(cls, "OPTIONS", {}) else {}
        self._create = lambda: _create(POSE_ESTIMATORS, self.estimator_name, options, analyzer.config.device)
        self._estimator: Any = None

    @property
    def estimator(self) -> Any:
        if self._estimator is None:
            self._estimator = self._create()
        return self._estimator

    def load_models(self) -> None:
        self.estimator  # noqa: B018 - the property loads the model

    def __call__(self, image: np.ndarray, faces: list[Face]) -> None:
        for face in faces:
            try:
                face.extras[self.name] = self.estimator.estimate(image, face).to_dict()
            except PoseError as exc:
                face.extras[self.name] = {"status": "unavailable", "reason": str(exc), "reason_code": exc.reason_code,
                                          "model": self.estimator_name}

    def aggregate(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        """A face track: the median of each angle over the frames that have one."""
        frames = [r for r in results if r.get("status") == "ok"]
        if not frames:
            return {"status": "unavailable", "frames": len(results), "reason": "no frame with a head pose",
                    "reason_codes": sorted({r["reason_code"] for r in results if r.get("reason_code")})}
        out: dict[str, Any] = {"status": "ok", "frames": len(results), "unavailable_frames": len(results) - len(frames)}
        for angle in ("yaw", "pitch", "roll"):
            out[angle] = round(float(np.median([f[angle] for f in frames])), 2)
        return {**out, "model": frames[0]["model"]}
