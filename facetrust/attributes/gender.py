"""Gender: dlib's ``dnn_gender_classifier_v1`` (Cydral, CC0-1.0), two classes (female, male)
as labelled in its training data; the label is the more probable class."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from facetrust.attributes.dlib_chip_model import DlibChipModel, colour_faces
from facetrust.attributes.inputs import FaceInputs

LABELS = ("female", "male")


def gender_result(probabilities: np.ndarray, model: str) -> dict[str, Any]:
    """An ``ok`` gender result from (female, male) probabilities."""
    best = int(probabilities.argmax())
    return {"status": "ok", "label": LABELS[best], "probability": round(float(probabilities[best]), 4),
            "probabilities": {k: round(float(v), 4) for k, v in zip(LABELS, probabilities)}, "model": model}


class GenderModel:
    """What the gender models share: the colour gate. A subclass gives :meth:`probabilities`
    ((female, male) per face)."""

    model: str
    probabilities: Callable[[list[FaceInputs]], np.ndarray]

    def estimate(self, faces: list[FaceInputs]) -> list[dict[str, Any]]:
        usable, results = colour_faces(faces, self.model)
        if usable:
            for i, p in zip(usable, self.probabilities([faces[i] for i in usable])):
                results[i] = gender_result(p, self.model)
        return [results[i] for i in range(len(faces))]


class DlibGender(GenderModel, DlibChipModel):
    name = "gender"
    zoo_models: tuple[str, ...] = ()
    model = "dlib-gender-v1"
    file = "gender-v1.onnx"
    chip_size = 32
