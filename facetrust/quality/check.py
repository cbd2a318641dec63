"""The ``quality`` face check (:mod:`facetrust.checks`): a quality result on every face."""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from facetrust.checks import mean_decision
from facetrust.quality.api import assess_faces, create_assessor, default_method
from facetrust.registry import Option
from facetrust.types import Face


class QualityCheck:
    name = "quality"
    #: Other options go to the assessor, whose own OPTIONS check them.
    OPTIONS: ClassVar[dict[str, Option]] = {"method": Option(str, optional=True)}

    def __init__(self, analyzer: Any, method: str | None = None, **options: Any) -> None:
        self.method = method or default_method(analyzer.config.recognizer, analyzer.config.detector)
        if self.method == "explainable" and "pose" in analyzer.config.checks:
            # The analyzer estimates head pose anyway: rate that estimate rather than the 5-point one.
            from facetrust.pose import DEFAULT_POSE_ESTIMATOR

            chosen = analyzer.config.check_options.get("pose", {}).get("estimator") or DEFAULT_POSE_ESTIMATOR
            options.setdefault("pose", chosen)
        self.assessor = create_assessor(self.method, analyzer, **options)

    def __call__(self, image: np.ndarray, faces: list[Face]) -> None:
        assess_faces(image, faces, self.assessor)

    def load_models(self) -> None:
        # stability, and learned with perturbation inputs, embed perturbed crops with their own recognizer.
        if self.method == "stability" or "perturbations" in getattr(self.assessor, "inputs", ()):
            self.assessor.recognizer  # noqa: B018 - the property loads the model

    def aggregate(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        """Track quality: the mean score, acceptable when it reaches the threshold (min and max kept)."""
        return mean_decision(results, "acceptable", "low")
