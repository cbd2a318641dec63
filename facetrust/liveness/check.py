"""The ``liveness`` face check (:mod:`facetrust.checks`): P(live) and a decision on every face."""
from __future__ import annotations

import os
from typing import Any, ClassVar

import numpy as np

from facetrust.checks import mean_decision
from facetrust.defaults import DEFAULT_LIVENESS_MODEL
from facetrust.liveness.checker import LivenessChecker
from facetrust.registry import Option
from facetrust.types import Face


class LivenessCheck:
    name = "liveness"
    #: Crops and threshold were measured on YuNet's faces: under a preset with a ``check_detector``
    #: the analyzer passes that detector's faces (FaceAnalyzer.run_checks).
    reads_check_detector = True

    OPTIONS: ClassVar[dict[str, Option]] = {"model": Option(str), "threshold": Option(float, 0.0, 1.0, optional=True),
                                            "calibration": Option(os.PathLike, optional=True)}

    def __init__(self, analyzer: Any, model: str = DEFAULT_LIVENESS_MODEL, threshold: float | None = None,
                 calibration: str | None = None) -> None:
        self.checker = LivenessChecker(model=model, threshold=threshold, calibration=calibration,
                                       analyzer=analyzer, device=analyzer.config.device)

    def __call__(self, image: np.ndarray, faces: list[Face]) -> None:
        self.checker.annotate(image, faces)

    def load_models(self) -> None:
        self.checker.model  # noqa: B018 - the property loads the model

    def aggregate(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        """Track decision: mean P(live) over the frames with a score (as :mod:`facetrust.liveness.video`);
        ``is_live`` None when no frame has one (unknown, not "no")."""
        decision = mean_decision(results, "live", "spoof")
        return {"status": decision["status"], "is_live": None if decision["status"] == "unavailable"
                else decision["status"] == "live", **decision}
