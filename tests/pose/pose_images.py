"""Real faces for the pose tests (colour photos from ../shared) and the image helpers they share.
A module of its own, not conftest: ``from conftest import`` finds whichever conftest.py pytest
imported first, so running the pose tests together with another folder's broke collection."""
from __future__ import annotations

import cv2
import numpy as np

#: A UTKFace child whose head is turned: all three estimators read a yaw of 20-28 degrees (nose to the image right).
TURNED = "data/utkface/images/1_0_0_20170110212907649.jpg.chip.jpg"
FRONTAL = "data/faces/ageitgey_face_recognition/examples/obama.jpg"


def padded(image: np.ndarray) -> np.ndarray:
    """40% replicated border on every side (as bench/pose_eval.py), so a rotated face stays inside."""
    border = int(0.4 * max(image.shape[:2]))
    return cv2.copyMakeBorder(image, border, border, border, border, cv2.BORDER_REPLICATE)


def rotated(image: np.ndarray, centre: tuple[float, float], degrees: float) -> np.ndarray:
    """``degrees`` clockwise as displayed."""
    matrix = cv2.getRotationMatrix2D(centre, -degrees, 1.0)
    return cv2.warpAffine(image, matrix, (image.shape[1], image.shape[0]), borderMode=cv2.BORDER_REPLICATE)
