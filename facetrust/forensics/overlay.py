"""Heat-map overlays: the suspected manipulated region drawn on the image."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from facetrust.forensics.base import FaceForgery
from facetrust.forensics.checker import heatmap_on_image


def overlay(image: np.ndarray, results: Sequence[FaceForgery], alpha: float = 0.5) -> np.ndarray:
    """RGB copy of ``image`` with each face's heat map (jet colours) blended in and its box drawn
    (red = fake, green = real, grey = unavailable)."""
    import cv2

    out = image.copy()
    heat = np.zeros(image.shape[:2], np.float32)
    for item in results:
        placed = heatmap_on_image(item.result, image.shape[:2])
        if placed is not None:
            heat = np.maximum(heat, placed)
    if heat.any():
        colours = cv2.applyColorMap(np.round(heat * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
        weight = (alpha * heat)[..., None]
        out = np.round(out * (1 - weight) + colours * weight).astype(np.uint8)
    for item in results:
        colour = {"fake": (255, 0, 0), "real": (0, 200, 0)}.get(item.result.status, (160, 160, 160))
        x1, y1, x2, y2 = (int(round(v)) for v in item.face.box)
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, max(1, image.shape[1] // 400))
    return out


def save_overlay(image: np.ndarray, results: Sequence[FaceForgery], path: Path) -> Path:
    """Write :func:`overlay` as PNG atomically."""
    import os
    import tempfile

    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".png", overlay(image, results)[..., ::-1])
    handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".png")
    with os.fdopen(handle, "wb") as stream:
        stream.write(data.tobytes())
    os.replace(tmp, path)
    return path
