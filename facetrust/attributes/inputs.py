"""What the attribute models look at, computed once per face and shared between them.

* The **dlib face chip** (``dlib.get_face_chip``): the face rotated upright and scaled
  from dlib's 5-point ``shape_predictor_5`` run inside the detector's box, whatever the
  detector (its own landmarks differ in meaning: see :mod:`facetrust.detection.landmarks`).
* The **68 iBUG landmarks** for the eye state (:func:`facetrust.liveness.motion.landmarks68`).
* Whether the face is **grayscale** (no colour in its chip), and whether it is too small.
"""
from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np

from facetrust.reasons import ReasonCode

#: Chip padding the dlib age and gender models were trained with (fraction of the face size).
CHIP_PADDING = 0.2
#: A face box narrower than this (pixels) gets ``unavailable`` results: below it gender accuracy
#: falls under 95% and age MAE grows by > 1.6 years (bench/attributes_small_faces.py, docs/attributes.md).
MIN_FACE_PX = 24
#: Mean over the chip of (max channel - min channel), in 0..255 levels, at or below which
#: the face has no colour: LFW-a and UTKFace's black-and-white photos give 0-0.51, UTKFace's
#: colour photos 2.4 and up, median 51 (docs/attributes.md).
GRAY_SPREAD = 1.0


class FaceInputs:
    """Lazy, cached inputs of one face of an RGB uint8 image."""

    def __init__(self, image: np.ndarray, box: tuple[float, float, float, float]) -> None:
        self.image = image
        self.box = tuple(float(v) for v in box)
        self._chips: dict[tuple[int, float], np.ndarray] = {}

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def too_small(self) -> str | None:
        """Why the face is too small to measure, or None."""
        if min(self.width, self.box[3] - self.box[1]) < MIN_FACE_PX:
            return f"face {self.width:.0f} px wide, below the {MIN_FACE_PX} px the attribute models need"
        return None

    @cached_property
    def shape5(self) -> Any:
        from facetrust.detection.landmarks import dlib_shape5

        return dlib_shape5(self.image, self.box)

    def chip(self, size: int, padding: float = CHIP_PADDING) -> np.ndarray:
        """The ``size`` x ``size`` RGB uint8 dlib face chip (padding :data:`CHIP_PADDING` unless told)."""
        if (size, padding) not in self._chips:
            import dlib

            self._chips[size, padding] = np.asarray(dlib.get_face_chip(np.ascontiguousarray(self.image), self.shape5,
                                                                       size=size, padding=padding))
        return self._chips[size, padding]

    @cached_property
    def colour_spread(self) -> float:
        chip = self.chip(64).astype(np.int16)
        return float((chip.max(axis=2) - chip.min(axis=2)).mean())

    @property
    def grayscale(self) -> bool:
        return self.colour_spread <= GRAY_SPREAD

    @cached_property
    def landmarks68(self) -> np.ndarray:
        from facetrust.liveness.motion import landmarks68

        return landmarks68(self.image, self.box)


def unavailable(code: ReasonCode, reason: str, model: str) -> dict[str, Any]:
    """The result of a model that cannot judge this face: a reason (and its code), never a guess."""
    return {"status": "unavailable", "reason": reason, "reason_code": code, "model": model}
