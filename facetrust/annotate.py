"""Drawing detected faces (box, 5 landmarks, score) onto a copy of the image, and writing
the copies of a run's inputs under one output folder."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from facetrust.io.outputs import copy_targets, write_image
from facetrust.types import Face

#: One colour per landmark in LANDMARK_ORDER (RGB).
_LANDMARK_COLOURS = [(255, 64, 64), (64, 255, 64), (64, 128, 255), (255, 255, 0), (255, 0, 255)]


def draw_faces(image: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
    import cv2

    canvas = np.ascontiguousarray(image.copy())
    thickness = max(1, round(max(image.shape[:2]) / 400))
    for face in faces:
        x1, y1, x2, y2 = (int(round(v)) for v in face.box)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), (0, 255, 0), thickness)
        cv2.putText(canvas, f"{face.score:.2f}", (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4 * thickness, (0, 255, 0), thickness, cv2.LINE_AA)
        for (x, y), colour in zip(face.landmarks, _LANDMARK_COLOURS):
            cv2.circle(canvas, (int(round(x)), int(round(y))), thickness + 1, colour, -1, cv2.LINE_AA)
    return canvas


def annotation_targets(inputs: Sequence[Path], out_dir: Path) -> dict[Path, Path]:
    """Where each input's annotated copy goes (:func:`facetrust.io.outputs.copy_targets`)."""
    return copy_targets(inputs, out_dir, f"--annotate {out_dir}")


def save_annotated(image: np.ndarray, faces: Sequence[Face], target: Path) -> Path:
    """Write ``image`` with ``faces`` drawn to ``target`` atomically, in the format its suffix
    names; :class:`OutputError` if it cannot be written."""
    return write_image(draw_faces(image, faces), target)
