"""Eye state (open / closed, per eye) from the eye aspect ratio (EAR) of dlib's 68 landmarks.

EAR = (|p2-p6| + |p3-p5|) / (2 |p1-p4|) (Soukupová & Čech 2016; the code of
:mod:`facetrust.liveness.motion`). A single image has no per-person baseline as a video
has, so an absolute threshold is used: an eye is ``closed`` below :data:`EAR_CLOSED`. Its
value and how it was measured are in docs/attributes.md. ``open`` is null (unknown, never
false) when an eye cannot be measured (face too small, degenerate landmarks).

The 68-point predictor was trained on iBUG 300-W: non-commercial use only.
"""
from __future__ import annotations

from typing import Any

from facetrust.attributes.inputs import FaceInputs, unavailable
from facetrust.liveness.motion import EYES, eye_aspect_ratio

EAR_CLOSED = 0.25
#: Eye names in :data:`facetrust.liveness.motion.EYES` order: the eye on the image's left first.
EYE_NAMES = ("left", "right")


def eye_state(ear: float | None) -> dict[str, Any]:
    if ear is None:
        return {"open": None, "ear": None}
    return {"open": ear >= EAR_CLOSED, "ear": round(ear, 4)}


class EyeAspectRatio:
    name = "eyes"
    model = "ear-dlib68"

    def estimate(self, faces: list[FaceInputs]) -> list[dict[str, Any]]:
        return [self._one(face) for face in faces]

    def _one(self, face: FaceInputs) -> dict[str, Any]:
        if (reason := face.too_small) is not None:
            return unavailable(reason, self.model)
        points = face.landmarks68
        result: dict[str, Any] = {"status": "ok"}
        for name, eye in zip(EYE_NAMES, EYES):
            try:
                result[name] = eye_state(eye_aspect_ratio(points[eye]))
            except ValueError:  # the corners coincide: no eye to measure
                result[name] = eye_state(None)
        return {**result, "threshold": EAR_CLOSED, "model": self.model}
