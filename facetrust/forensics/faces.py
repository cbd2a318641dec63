"""Face detection at a workable scale for forgery checks.

Forensic inputs range from tight face crops (DFDC crops are 50-140 px wide) to
4K video frames. Detection runs on a resized copy — small images are enlarged so
their shorter side is :data:`DETECT_MIN_SIDE`, huge ones shrunk so their longer side
is :data:`DETECT_MAX_SIDE` — and boxes and landmarks are mapped back, so the
detectors always cut their crops from the original pixels.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from facetrust.types import Detection, Face

DETECT_MIN_SIDE = 256
DETECT_MAX_SIDE = 1280


def detection_scale(shape: tuple[int, ...]) -> float:
    height, width = shape[:2]
    if min(height, width) < DETECT_MIN_SIDE:
        return DETECT_MIN_SIDE / min(height, width)
    if max(height, width) > DETECT_MAX_SIDE:
        return DETECT_MAX_SIDE / max(height, width)
    return 1.0


def detect_faces(analyzer: Any, image: np.ndarray, crop_fallback: bool = False) -> list[Face]:
    """Faces (largest first) with boxes and 5 landmarks in ``image`` pixels.

    ``crop_fallback``: for inputs known to be face crops, when nothing is detected the
    whole image is taken as the face box (landmarks from dlib's 5-point model); such
    faces get score 0 and ``extras["fallback"] = True``.
    """
    import cv2

    scale = detection_scale(image.shape)
    resized = image if scale == 1.0 else cv2.resize(
        image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
    detections = analyzer.detect_rgb(resized)
    faces = [Face(tuple(float(v) / scale for v in d.box), d.score, np.asarray(d.landmarks, np.float32) / scale)
             for d in detections if d.landmarks is not None]
    if not faces and crop_fallback:
        from facetrust.detection.landmarks import add_landmarks

        height, width = resized.shape[:2]
        detection = add_landmarks(resized, Detection((0.0, 0.0, float(width), float(height)), 0.0, fallback=True))
        faces = [Face(tuple(v / scale for v in detection.box), 0.0, detection.landmarks / scale,
                      extras={"fallback": True})]
    return faces
