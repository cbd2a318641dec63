"""Eye state (open / closed, per eye) from the eye aspect ratio (EAR) of dlib's 68 landmarks.

EAR = (|p2-p6| + |p3-p5|) / (2 |p1-p4|) (Soukupová & Čech 2016; the code of
:mod:`facetrust.liveness.motion`). A single image has no per-person baseline as a video
has, and open and closed eyes of different people overlap in EAR, so two measured bounds
are used: an eye is closed below :data:`EAR_CLOSED`, open at or above :data:`EAR_OPEN`, and
``open`` is null (unknown, never false) in between, or when the eye cannot be measured (face
too small, degenerate landmarks). How the bounds were measured: docs/attributes.md.

The 68-point predictor was trained on iBUG 300-W: non-commercial use only.
"""
from __future__ import annotations

from typing import Any

from facetrust.attributes.inputs import FaceInputs, unavailable
from facetrust.liveness.motion import EYES, eye_aspect_ratio

#: About the 5th percentile of the eyes in UTKFace photos (nearly all open): few open eyes fall below.
EAR_CLOSED = 0.20
#: Above every closed-eye frame of the by-eye-checked blinks in DFDC clip abqwwspghj (max 0.27).
EAR_OPEN = 0.28
#: Eye names in :data:`facetrust.liveness.motion.EYES` order: the eye on the image's left first.
EYE_NAMES = ("left", "right")


def eye_state(ear: float | None) -> dict[str, Any]:
    if ear is None:
        return {"open": None, "ear": None}
    return {"open": True if ear >= EAR_OPEN else False if ear < EAR_CLOSED else None, "ear": round(ear, 4)}


class EyeAspectRatio:
    name = "eyes"
    zoo_models: tuple[str, ...] = ("dlib-shape68",)
    model = "ear-dlib68"

    def estimate(self, faces: list[FaceInputs]) -> list[dict[str, Any]]:
        return [self._one(face) for face in faces]

    def _one(self, face: FaceInputs) -> dict[str, Any]:
        if (reason := face.too_small) is not None:
            return unavailable("face_too_small", reason, self.model)
        points = face.landmarks68
        result: dict[str, Any] = {"status": "ok"}
        for name, eye in zip(EYE_NAMES, EYES):
            try:
                result[name] = eye_state(eye_aspect_ratio(points[eye]))
            except ValueError:  # the corners coincide: no eye to measure
                result[name] = eye_state(None)
        return {**result, "closed_below": EAR_CLOSED, "open_from": EAR_OPEN, "model": self.model}
