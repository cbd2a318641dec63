"""The detector protocol and helpers shared by detector implementations."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from facetrust.types import Detection


@runtime_checkable
class Detector(Protocol):
    """Finds faces in an RGB uint8 image.

    ``provides_landmarks`` is False for box-only detectors; the analyzer then
    fills the 5 landmarks with dlib's 5-point shape predictor.
    """

    name: str
    provides_landmarks: bool
    #: Which nose point the faces' 5 landmarks hold, "tip" or "base" (head pose reads it; see
    #: :func:`facetrust.detection.landmarks.nose_point_of`). Box-only detectors declare
    #: :data:`~facetrust.detection.landmarks.SHAPE5_NOSE_POINT`: their landmarks come from dlib.
    nose_point: str
    #: Zoo manifest entries the detector loads with its default options (``()`` = none).
    zoo_models: tuple[str, ...]

    def detect(self, image: np.ndarray) -> list[Detection]: ...


def downscale_for_detection(image: np.ndarray, max_side: int | None) -> tuple[np.ndarray, float]:
    """Shrink huge images before detection (cost grows with pixels); returns (image, scale)."""
    height, width = image.shape[:2]
    if not max_side or max(height, width) <= max_side:
        return image, 1.0
    scale = max_side / max(height, width)
    small = cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    return small, scale


def rescale(detections: list[Detection], scale: float) -> list[Detection]:
    if scale == 1.0:
        return detections
    inv = 1.0 / scale
    return [
        Detection(
            tuple(float(v) * inv for v in d.box),  # type: ignore[arg-type]
            d.score,
            None if d.landmarks is None else d.landmarks * inv,
        )
        for d in detections
    ]


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[int]:
    """Indices kept by non-maximum suppression (OpenCV's implementation)."""
    if len(boxes) == 0:
        return []
    xywh = np.column_stack([boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]])
    kept = cv2.dnn.NMSBoxes(xywh.tolist(), scores.astype(float).tolist(), 0.0, iou_threshold)
    return [int(i) for i in np.asarray(kept).reshape(-1)]


def sort_by_area(detections: list[Detection]) -> list[Detection]:
    """Largest face first: the documented order of every detector's output."""
    return sorted(detections, key=lambda d: d.area, reverse=True)
