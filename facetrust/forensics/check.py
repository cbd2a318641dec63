"""The ``forgery`` face check (:mod:`facetrust.checks`): P(fake) and a decision on every face."""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from facetrust.checks import mean_decision
from facetrust.defaults import DEFAULT_FORGERY_DETECTOR
from facetrust.forensics.checker import ForgeryChecker
from facetrust.registry import Option
from facetrust.types import Face


class ForgeryCheck:
    name = "forgery"
    #: Crops and threshold were measured on YuNet's faces: under a preset with a ``check_detector``
    #: the analyzer passes that detector's faces (FaceAnalyzer.run_checks).
    reads_check_detector = True
    #: ``model`` names the forgery model as for liveness (``detector`` is always the face
    #: detector elsewhere); ``detector`` is its deprecated old spelling.
    OPTIONS: ClassVar[dict[str, Option]] = {"model": Option(str), "threshold": Option(float, 0.0, 1.0, optional=True),
                                            "detector": Option(str, optional=True)}

    def __init__(self, analyzer: Any, model: str = DEFAULT_FORGERY_DETECTOR, threshold: float | None = None,
                 detector: str | None = None) -> None:
        self.checker = ForgeryChecker(detector=detector or model, threshold=threshold, analyzer=analyzer,
                                      device=analyzer.config.device)

    def __call__(self, image: np.ndarray, faces: list[Face]) -> None:
        self.checker.annotate(image, faces)

    def load_models(self) -> None:
        self.checker.detector  # noqa: B018 - the property loads the model

    def aggregate(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        """Track decision: mean P(fake) over the frames with a score (as :mod:`facetrust.forensics.video`);
        ``is_fake`` None when no frame has one (unknown, not "real")."""
        decision = mean_decision(results, "fake", "real")
        return {"status": decision["status"], "is_fake": None if decision["status"] == "unavailable"
                else decision["status"] == "fake", **decision}
