"""Head pose from InsightFace's 106 landmarks: 6 of them fitted to a generic 3-D face with ``cv2.solvePnP``.

The 3-D face is the one :mod:`facetrust.liveness.motion` uses (S. Mallick's generic head, "Head
Pose Estimation using OpenCV and Dlib", LearnOpenCV 2016: nose tip, chin, outer eye corners,
mouth corners, arbitrary units), matched to the 106 scheme's nose tip 86, chin 0, outer eye
corners 35 / 93 and mouth corners 52 / 61 (indices checked against dlib's 68 iBUG points,
docs/pose.md). Camera: focal length = image width, centre = image centre, no distortion.
The 106-point model is InsightFace's: **non-commercial research only**.
"""
from __future__ import annotations

from typing import ClassVar

import cv2
import numpy as np

from facetrust.errors import PoseError
from facetrust.liveness.motion import POSE_MODEL
from facetrust.pose.base import HeadPose, rotation_to_angles
from facetrust.pose.landmarks106 import InsightFace106
from facetrust.registry import Option
from facetrust.types import Detection, Face

#: 106-point indices in POSE_MODEL's order: nose tip, chin, outer corner of the image-left eye,
#: of the image-right eye, image-left mouth corner, image-right mouth corner.
PNP_POINTS = (86, 0, 35, 93, 52, 61)


def solve_pose(points: np.ndarray, width: int, height: int) -> tuple[float, float, float]:
    """(yaw, pitch, roll) of image ``points`` matching POSE_MODEL row by row."""
    focal = float(width)
    camera = np.array([[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]])
    ok, rotation, _ = cv2.solvePnP(POSE_MODEL, np.ascontiguousarray(points, dtype=np.float64), camera, None,
                                   flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        raise PoseError("head pose did not converge on these landmarks")
    return rotation_to_angles(cv2.Rodrigues(rotation)[0])


class Pose106:
    name = "pose-106"
    zoo_models: ClassVar[tuple[str, ...]] = InsightFace106.zoo_models
    OPTIONS: ClassVar[dict[str, Option]] = {"device": Option(str)}

    def __init__(self, device: str = "cpu") -> None:
        self.landmarks = InsightFace106(device)

    def estimate(self, image: np.ndarray, face: Face | Detection) -> HeadPose:
        points = self.landmarks.locate(image, face.box)
        yaw, pitch, roll = solve_pose(points[list(PNP_POINTS)], image.shape[1], image.shape[0])
        return HeadPose(yaw, pitch, roll, self.name)
