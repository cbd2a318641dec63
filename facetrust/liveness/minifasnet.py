"""MiniFASNet (Silent-Face-Anti-Spoofing, ONNX): one model per crop scale, or both fused.

Each model reads an 80x80 BGR 0..255 crop of the face box enlarged by its scale
(see :mod:`facetrust.liveness.crop`) and outputs 3 logits; after a softmax,
class 1 is "live" (0 and 2 are the two attack classes of its training set).
The fused model is the reference method: the two softmax outputs are summed
and the live class read from the sum; we report that sum divided by 2, so the
score stays a probability.
"""
from __future__ import annotations

import numpy as np

from facetrust.liveness.base import Box, LivenessScores
from facetrust.liveness.crop import reference_crop
from facetrust.runtime import onnx_session
from facetrust.zoo import model_file

LIVE_CLASS = 1


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max())
    return shifted / shifted.sum()


class MiniFASNetSingle:
    """One MiniFASNet network at its crop scale; ``predict`` returns P(live)."""

    zoo_models: tuple[str, ...]
    scale: float

    def __init__(self, device: str = "cpu") -> None:
        self._session = onnx_session(model_file(self.zoo_models[0]), device)
        self._input = self._session.get_inputs()[0].name
        self.device = device

    @property
    def name(self) -> str:
        return self.zoo_models[0]

    @property
    def scales(self) -> tuple[float, ...]:
        return (self.scale,)

    def probabilities(self, image: np.ndarray, box: Box) -> np.ndarray:
        """Softmax over the 3 classes for the face in ``box`` of an RGB uint8 image."""
        crop = reference_crop(image, box, self.scale)
        batch = np.ascontiguousarray(crop.transpose(2, 0, 1)[None], dtype=np.float32)
        return _softmax(self._session.run(None, {self._input: batch})[0][0].astype(np.float64))

    def predict(self, image: np.ndarray, box: Box) -> LivenessScores:
        live = float(self.probabilities(image, box)[LIVE_CLASS])
        return LivenessScores(live, {self.name: live})


class MiniFASNetV2(MiniFASNetSingle):
    zoo_models = ("minifasnet-v2",)
    scale = 2.7


class MiniFASNetV1SE(MiniFASNetSingle):
    zoo_models = ("minifasnet-v1se",)
    scale = 4.0


class MiniFASNetFused:
    """The reference pair: MiniFASNetV2 at scale 2.7 + MiniFASNetV1SE at scale 4.0, softmaxes summed."""

    name = "minifasnet"
    zoo_models = MiniFASNetV2.zoo_models + MiniFASNetV1SE.zoo_models

    def __init__(self, device: str = "cpu") -> None:
        self.members = (MiniFASNetV2(device), MiniFASNetV1SE(device))
        self.device = device

    @property
    def scales(self) -> tuple[float, ...]:
        return tuple(m.scale for m in self.members)

    def predict(self, image: np.ndarray, box: Box) -> LivenessScores:
        summed = np.zeros(3)
        per_model = {}
        for member in self.members:
            probabilities = member.probabilities(image, box)
            per_model[member.name] = float(probabilities[LIVE_CLASS])
            summed += probabilities
        return LivenessScores(float(summed[LIVE_CLASS] / len(self.members)), per_model)
