"""Head pose and dense-landmark types shared by every pose estimator and landmark model.

Angles are degrees in one convention for every estimator (each implementation maps its
own to it, measured in docs/pose.md):

* **yaw** > 0 when the nose points to the image's right (the subject's left in an
  un-mirrored photo); a horizontal flip negates it;
* **pitch** > 0 when the face looks up (chin up, nose above its frontal place);
* **roll** > 0 when the head is turned clockwise in the image: the eye on the image's
  right lies lower. Rotating the image by +a degrees clockwise adds a to the roll.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from facetrust.errors import PoseError
from facetrust.types import Detection, Face


@dataclass(frozen=True)
class HeadPose:
    yaw: float
    pitch: float
    roll: float
    model: str

    def to_dict(self) -> dict[str, Any]:
        return {"status": "ok", "yaw": round(self.yaw, 2), "pitch": round(self.pitch, 2), "roll": round(self.roll, 2),
                "model": self.model}


class PoseEstimator(Protocol):
    """Yaw, pitch and roll of one face (its box, and its 5 landmarks where the method needs them)."""

    name: str
    #: Zoo entries the estimator loads.
    zoo_models: ClassVar[tuple[str, ...]]

    def estimate(self, image: np.ndarray, face: Face | Detection) -> HeadPose:
        """The head pose of ``face`` in an RGB uint8 image; PoseError when it cannot be estimated."""


class LandmarkModel(Protocol):
    """Dense landmarks of one face, located from its detection box."""

    name: str
    zoo_models: ClassVar[tuple[str, ...]]
    #: How many (x, y) points :meth:`locate` returns.
    points: ClassVar[int]

    def locate(self, image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        """(points, 2) float64 image coordinates; PoseError for a box too small to locate them."""


def check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise PoseError(f"head pose needs an RGB uint8 image (H, W, 3), got "
                        f"{getattr(image, 'dtype', type(image).__name__)} {getattr(image, 'shape', '')}")


def check_box(box: tuple[float, float, float, float], min_side: float, model: str) -> None:
    """PoseError unless the box is finite and both sides reach ``min_side`` pixels."""
    x1, y1, x2, y2 = (float(v) for v in box)
    if not all(np.isfinite([x1, y1, x2, y2])) or x2 <= x1 or y2 <= y1:
        raise PoseError(f"face box {tuple(round(v, 1) for v in (x1, y1, x2, y2))} is empty")
    if min(x2 - x1, y2 - y1) < min_side:
        raise PoseError(f"face {x2 - x1:.0f}x{y2 - y1:.0f} px is below the {min_side:g} px {model} needs",
                        "face_too_small")


def rotation_to_angles(rotation: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in the convention above from a rotation matrix taking head coordinates
    (x to the image right, y down, z away from the camera: a frontal face is the identity) to
    camera coordinates (x right, y down, z forward). R = Rz(roll) @ Ry(-yaw) @ Rx(pitch) in the
    camera's frame, so the face's forward axis (0, 0, -1) gives yaw and pitch."""
    r = np.asarray(rotation, dtype=np.float64)
    forward = -r[:, 2]  # where the face looks, in camera coordinates (towards the camera: z < 0)
    yaw = np.degrees(np.arctan2(forward[0], -forward[2]))
    pitch = np.degrees(np.arctan2(-forward[1], np.hypot(forward[0], forward[2])))
    # Roll: angle of the head's x axis (ear to ear) in the image plane once yaw and pitch are removed.
    right = r[:, 0]
    up_removed = right - forward * float(right @ forward)
    roll = np.degrees(np.arctan2(up_removed[1], np.hypot(up_removed[0], up_removed[2])))
    return float(yaw), float(pitch), float(roll)
