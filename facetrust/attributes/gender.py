"""Gender: dlib's ``dnn_gender_classifier_v1`` (Cydral, CC0-1.0), two classes (female, male)
as labelled in its training data; the label is the more probable class."""
from __future__ import annotations

from typing import Any

from facetrust.attributes.dlib_chip_model import DlibChipModel, colour_faces
from facetrust.attributes.inputs import FaceInputs

LABELS = ("female", "male")


class DlibGender(DlibChipModel):
    name = "gender"
    zoo_models: tuple[str, ...] = ()
    model = "dlib-gender-v1"
    file = "gender-v1.onnx"
    chip_size = 32

    def estimate(self, faces: list[FaceInputs]) -> list[dict[str, Any]]:
        usable, results = colour_faces(faces, self.model)
        if usable:
            for i, p in zip(usable, self.probabilities([faces[i] for i in usable])):
                best = int(p.argmax())
                results[i] = {"status": "ok", "label": LABELS[best], "probability": round(float(p[best]), 4),
                              "probabilities": {k: round(float(v), 4) for k, v in zip(LABELS, p)},
                              "model": self.model}
        return [results[i] for i in range(len(faces))]
