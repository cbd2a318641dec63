"""Conversions between dlib rectangles and :class:`Detection`."""
from __future__ import annotations

from typing import Any, Iterable

from facetrust.types import Detection


def rects_to_detections(rects: Iterable[Any], scores: Iterable[float], shape: tuple[int, ...]) -> list[Detection]:
    height, width = shape[:2]
    out = []
    for rect, score in zip(rects, scores):
        # dlib boxes are inclusive and may extend past the border; clip to the image.
        x1, y1 = max(0, rect.left()), max(0, rect.top())
        x2, y2 = min(width, rect.right() + 1), min(height, rect.bottom() + 1)
        if x2 > x1 and y2 > y1:
            out.append(Detection((float(x1), float(y1), float(x2), float(y2)), float(score)))
    return out
