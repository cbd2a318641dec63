"""Age: dlib's ``dnn_age_predictor_v1`` (Cydral, CC0-1.0), 81 classes = 0..80 years.

The estimate is the expected value of the class distribution (as its authors compute it). The
range is not that distribution's spread (its 10th-90th percentiles held the true age only 39% of
the time on UTKFace) but a conformal interval fitted on held-out labelled faces
(:mod:`facetrust.attributes.age_range`); its coverage is measured in docs/attributes.md.
"""
from __future__ import annotations

from functools import cached_property
from typing import Any, Callable

import numpy as np

from facetrust.attributes.age_range import AgeRange, load_age_range
from facetrust.attributes.dlib_chip_model import DlibChipModel, colour_faces
from facetrust.attributes.inputs import FaceInputs

AGES = np.arange(81, dtype=np.float64)


def age_result(age: float, age_range: AgeRange, model: str) -> dict[str, Any]:
    """An ``ok`` age result: the estimate, its calibrated range and the range's nominal coverage."""
    low, high = age_range.bounds(np.array([age]))
    return {"status": "ok", "value": round(age, 2), "low": int(low[0]), "high": int(high[0]),
            "range_probability": age_range.level, "model": model}


class AgeModel:
    """What the age models share: the colour gate and the calibrated range (read on first use).
    A subclass gives :meth:`ages` (years, one per face)."""

    name: str
    model: str
    ages: Callable[[list[FaceInputs]], np.ndarray]

    @cached_property
    def age_range(self) -> AgeRange:
        return load_age_range(self.name)

    def estimate(self, faces: list[FaceInputs]) -> list[dict[str, Any]]:
        usable, results = colour_faces(faces, self.model)
        if usable:
            for i, age in zip(usable, self.ages([faces[i] for i in usable])):
                results[i] = age_result(float(age), self.age_range, self.model)
        return [results[i] for i in range(len(faces))]


class DlibAge(AgeModel, DlibChipModel):
    name = "age"
    zoo_models: tuple[str, ...] = ()
    model = "dlib-age-v1"
    file = "age-v1.onnx"
    chip_size = 64

    def ages(self, faces: list[FaceInputs]) -> np.ndarray:
        """Expected ages in years."""
        return self.probabilities(faces) @ AGES
