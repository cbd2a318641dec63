"""Facial expression: mini-Xception trained on FER-2013 (7 classes), a full Keras model run in
numpy (:mod:`facetrust.attributes.keras_graph`).

Research use only (FER-2013's terms): a zoo model (``emotion-mini-xception``) that is never
loaded unless ``expression`` is asked for. Input: the dlib face chip (as for age and gender,
padding 0.2) in grayscale, 64x64, / 255 — the crop and scaling chosen on LFW against Kumar
et al.'s "Smiling" scores (docs/attributes.md).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from facetrust.attributes.inputs import FaceInputs, unavailable

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
INPUT_SIZE = 64


def preprocess(chips: np.ndarray) -> np.ndarray:
    """(N, 64, 64, 3) RGB uint8 chips -> (N, 64, 64, 1) float32 grey (ITU-R 601 luma, as OpenCV) in [0, 1]."""
    gray = chips.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return (gray / 255.0)[..., None]


class MiniXceptionExpression:
    name = "expression"
    zoo_models = ("emotion-mini-xception",)
    model = "emotion-mini-xception"

    def __init__(self) -> None:
        from facetrust.attributes.keras_graph import KerasGraph
        from facetrust.zoo import model_file

        self._net = KerasGraph(model_file(self.model))

    def estimate(self, faces: list[FaceInputs]) -> list[dict[str, Any]]:
        results: dict[int, dict[str, Any]] = {i: unavailable("face_too_small", f.too_small, self.model)
                                              for i, f in enumerate(faces) if f.too_small}
        usable = [i for i in range(len(faces)) if i not in results]
        if usable:
            chips = np.stack([faces[i].chip(INPUT_SIZE) for i in usable])
            for i, p in zip(usable, self._net(preprocess(chips)).astype(np.float64)):
                best = int(p.argmax())
                results[i] = {"status": "ok", "label": LABELS[best], "probability": round(float(p[best]), 4),
                              "probabilities": {k: round(float(v), 4) for k, v in zip(LABELS, p)},
                              "model": self.model}
        return [results[i] for i in range(len(faces))]
