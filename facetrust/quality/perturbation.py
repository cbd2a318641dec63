"""How much a face's embedding and landmarks move under small perturbations.

A face the recognizer will match reliably has a representation that does not
depend on details of the capture or the pipeline: mirroring it, shifting the
crop a little, or starting the landmark fit from a slightly different box
barely moves its embedding. Faces that are turned, occluded, blurred or
badly fitted move more, and those are the faces behind false non-matches.
Four numbers per face (:data:`PERTURBATION_NAMES`):

* ``mirror_cosine``: cosine between the embeddings of the aligned crop and
  of its mirror image;
* ``shift_cosine``: the same for the crop shifted by 2.5% of its side;
* ``realign_cosine``: the same for the crop the recognizer aligns from the
  detector box shifted by :data:`REALIGN_SHIFT` of its side and scaled by
  :data:`REALIGN_SCALE` (for recognizers that align from the box, such as
  dlib-resnet, whose 5 points are re-fitted inside it; 1.0 for recognizers
  that align from the detector's landmarks alone);
* ``landmark_spread``: RMS displacement of dlib's 5 landmark points fitted
  from the box shifted by ±:data:`SPREAD_SHIFT` of its side (4 boxes), in
  units of the inter-eye distance — how well defined the face's landmarks
  are.

``stability`` (the SER-FIQ-style training-free score) is the mean of the
first two; the learned assessor uses all four.
"""
from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from facetrust.types import Detection

#: Shift of the crop, as a fraction of its side.
SHIFT_FRACTION = 0.025
#: Box perturbation before re-aligning: shift (fraction of the box side, right and down) and scale.
REALIGN_SHIFT, REALIGN_SCALE = 0.1, 0.85
#: Box shifts (fraction of the box side) whose landmark fits give ``landmark_spread``.
SPREAD_SHIFT = 0.06
PERTURBATION_NAMES: tuple[str, ...] = ("mirror_cosine", "shift_cosine", "realign_cosine", "landmark_spread")


def crop_perturbations(crop: np.ndarray) -> list[np.ndarray]:
    """The perturbed copies of an aligned crop: mirrored, and shifted right and down."""
    size = crop.shape[0]
    offset = max(1, round(SHIFT_FRACTION * size))
    shift = np.float32([[1, 0, offset], [0, 1, offset]])
    shifted = cv2.warpAffine(crop, shift, (crop.shape[1], size), borderMode=cv2.BORDER_REPLICATE)
    return [np.ascontiguousarray(crop[:, ::-1]), shifted]


def moved_box(box: tuple[float, float, float, float], dx: float, dy: float,
              scale: float = 1.0) -> tuple[float, float, float, float]:
    """``box`` shifted by (dx, dy) of its width/height and scaled about its centre."""
    x1, y1, x2, y2 = box
    width, height = x2 - x1, y2 - y1
    cx, cy = (x1 + x2) / 2 + dx * width, (y1 + y2) / 2 + dy * height
    half_w, half_h = width * scale / 2, height * scale / 2
    return (cx - half_w, cy - half_h, cx + half_w, cy + half_h)


def landmark_spread(image: np.ndarray, box: tuple[float, float, float, float]) -> float:
    """RMS movement of dlib's 5 raw landmark points across 4 shifted boxes, per inter-eye distance."""
    from facetrust.detection.landmarks import dlib_shape5

    fits = []
    for dx, dy in ((SPREAD_SHIFT, 0.0), (-SPREAD_SHIFT, 0.0), (0.0, SPREAD_SHIFT), (0.0, -SPREAD_SHIFT)):
        shape = dlib_shape5(image, moved_box(box, dx, dy))
        fits.append([(p.x, p.y) for p in shape.parts()])
    points = np.asarray(fits, dtype=np.float64)  # (4 boxes, 5 points, 2)
    mean = points.mean(axis=0)
    # Raw points 0,1 = one eye's corners, 2,3 = the other's.
    eye_distance = float(np.linalg.norm(mean[0:2].mean(axis=0) - mean[2:4].mean(axis=0)))
    rms = float(np.sqrt(np.mean(np.sum((points - mean) ** 2, axis=2))))
    return rms / max(eye_distance, 1.0)


def perturbation_features(recognizer: Any, image: np.ndarray, detection: Detection, crop: np.ndarray | None = None,
                          embedding: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(embedding of the face, its :data:`PERTURBATION_NAMES` values).

    Embeds the three perturbed crops in one batch, and the face's own crop too
    unless its ``embedding`` (from the same recognizer) is given.
    """
    crop = recognizer.align(image, detection) if crop is None else crop
    moved = Detection(moved_box(detection.box, REALIGN_SHIFT, REALIGN_SHIFT, REALIGN_SCALE), detection.score,
                      detection.landmarks)
    perturbed = [*crop_perturbations(crop), recognizer.align(image, moved)]
    if embedding is None:
        vectors = recognizer.embed_aligned([crop, *perturbed])
        embedding, vectors = vectors[0], vectors[1:]
    else:
        embedding = np.asarray(embedding, dtype=np.float32)
        vectors = recognizer.embed_aligned(perturbed)
    cosines = vectors @ embedding
    return embedding, np.array([*cosines, landmark_spread(image, detection.box)], dtype=np.float64)
