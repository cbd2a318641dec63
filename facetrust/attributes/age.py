"""Age: dlib's ``dnn_age_predictor_v1`` (Cydral, CC0-1.0), 81 classes = 0..80 years.

The estimate is the expected value of the class distribution (as its authors compute it). The
range is not that distribution's spread (its 10th-90th percentiles held the true age only 39% of
the time on UTKFace) but a conformal interval fitted on held-out labelled faces
(:mod:`facetrust.attributes.age_range`); its coverage is measured in docs/attributes.md.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable

import numpy as np

from facetrust.attributes.age_range import AgeRange, load_age_range
from facetrust.attributes.dlib_chip_model import DlibChipModel, colour_faces
from facetrust.attributes.inputs import FaceInputs
from facetrust.attributes.packaged import packaged_model
from facetrust.errors import ModelError

AGES = np.arange(81, dtype=np.float64)
#: The default's chips (docs/attributes.md): paddings besides 0.2, and shifts of the padding-0.2 chip
#: cut from a 68 px chip with the same scale (1.4 * 68 / 64 = 1 + 2 * 0.24375).
JITTER_PADDINGS = (0.15, 0.25)
SHIFT_SIZE, SHIFT_PADDING = 68, 0.24375
SHIFTS = ((2, 2), (0, 2), (4, 2), (2, 0), (2, 4))
#: The monotone map of the default's expected age, fitted on UTKFace's calibration half.
MAP_FILE = "age-map-v1.json"


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


class DlibAgePlain(AgeModel, DlibChipModel):
    """The chip alone and its expected age, as the model's authors run it (one network pass per face)."""

    name = "age-plain"
    zoo_models: tuple[str, ...] = ()
    model = "dlib-age-v1"
    file = "age-v1.onnx"
    chip_size = 64

    def ages(self, faces: list[FaceInputs]) -> np.ndarray:
        """Expected ages in years."""
        return self.probabilities(faces) @ AGES


class DlibAge(DlibAgePlain):
    """The default: the class distributions of 14 chips averaged (test-time augmentation), their
    expected age mapped through a monotone map fitted on UTKFace's calibration half. Picked from 29
    candidates by the rule in docs/attributes.md; 14 network passes per face. The map learned
    UTKFace's age mix and labels and may not transfer to other photos (then use ``age-plain``)."""

    name = "age"
    model = "dlib-age-v1-jitter-map"

    @cached_property
    def age_map(self) -> AgeMap:
        return load_age_map()

    def distributions(self, faces: list[FaceInputs]) -> np.ndarray:
        """(N, 81) class probabilities averaged over each face's :func:`jittered_chips`."""
        chips = [jittered_chips(face) for face in faces]
        p = self.run(np.stack([chip for face in chips for chip in face])).reshape(len(faces), len(chips[0]), -1)
        p = p.mean(axis=1)
        return p / p.sum(axis=1, keepdims=True)

    def ages(self, faces: list[FaceInputs]) -> np.ndarray:
        """Mapped expected ages in years."""
        return self.age_map(self.distributions(faces) @ AGES)


def jittered_chips(face: FaceInputs) -> list[np.ndarray]:
    """The 64 px chip at paddings 0.15 and 0.25, and the padding-0.2 chip moved by 0 or +-2 px along x or
    y (cut from a 68 px chip whose central 64 px are the padding-0.2 chip); each also mirrored."""
    big = face.chip(SHIFT_SIZE, SHIFT_PADDING)
    chips = [face.chip(64, padding) for padding in JITTER_PADDINGS] + [big[y:y + 64, x:x + 64] for x, y in SHIFTS]
    return chips + [chip[:, ::-1] for chip in chips]


@dataclass(frozen=True)
class AgeMap:
    """A non-decreasing piecewise-linear map of ages: linear between knots, constant beyond the end ones."""

    x: tuple[float, ...]
    y: tuple[float, ...]

    def __call__(self, ages: np.ndarray) -> np.ndarray:
        return np.interp(ages, self.x, self.y)


def load_age_map() -> AgeMap:
    """The packaged map (sha256 checked); a file whose knots are not monotone is a ModelError."""
    path = packaged_model(MAP_FILE)
    try:
        knots = json.loads(path.read_text(encoding="utf-8"))
        x, y = tuple(map(float, knots["x"])), tuple(map(float, knots["y"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{path}: cannot read the age map ({exc})") from None
    if len(x) != len(y) or len(x) < 2 or np.any(np.diff(x) <= 0) or np.any(np.diff(y) < 0):
        raise ModelError(f"{path}: the age map's knots are not increasing")
    return AgeMap(x, y)
