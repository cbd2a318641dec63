"""Age: dlib's ``dnn_age_predictor_v1`` (Cydral, CC0-1.0), 81 classes = 0..80 years.

The estimate is the expected value of the class distribution (as its authors compute it);
the range is the central :data:`RANGE_MASS` of that distribution (its 10th and 90th
percentiles). How often the true age falls inside the range is measured in docs/attributes.md.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from facetrust.attributes.dlib_chip_model import DlibChipModel, colour_faces
from facetrust.attributes.inputs import FaceInputs

AGES = np.arange(81, dtype=np.float64)
#: Probability mass of the reported range.
RANGE_MASS = 0.8


def age_result(probabilities: np.ndarray, model: str) -> dict[str, Any]:
    cumulative = np.cumsum(probabilities)
    tail = (1.0 - RANGE_MASS) / 2.0
    low = int(np.searchsorted(cumulative, tail))
    high = int(np.searchsorted(cumulative, 1.0 - tail))
    return {"status": "ok", "value": round(float(probabilities @ AGES), 2), "low": low, "high": min(high, 80),
            "range_probability": round(float(probabilities[low: high + 1].sum()), 4), "model": model}


class DlibAge(DlibChipModel):
    name = "age"
    zoo_models: tuple[str, ...] = ()
    model = "dlib-age-v1"
    file = "age-v1.onnx"
    chip_size = 64

    def estimate(self, faces: list[FaceInputs]) -> list[dict[str, Any]]:
        usable, results = colour_faces(faces, self.model)
        if usable:
            for i, p in zip(usable, self.probabilities([faces[i] for i in usable])):
                results[i] = age_result(p, self.model)
        return [results[i] for i in range(len(faces))]
