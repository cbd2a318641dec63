"""Face crops for the forgery detectors, cut from the 5 landmarks.

Both crops are square, rotated upright (the eyes-to-mouth direction points
down), and sample outside the image by reflection, as MesoNet's reference
pipeline does (``pipeline.py``: ``get_image_slice`` pads with ``'reflect'``).
The warp keeps native resolution first and resizes after (area when shrinking,
cubic when enlarging), so small faces are not aliased by the rotation.
"""
from __future__ import annotations

import numpy as np

from facetrust.alignment.similarity import ARCFACE_TEMPLATE_112, estimate_similarity

#: MesoNet's side length: K = 2.2 times max(eye distance, eyes-to-mouth distance), zoomed by 1.3.
MESONET_SIDE_FACTOR = 2.2 * 1.3
#: MesoNet centres on (nose tip + nose bridge) / 2; from 5 points that lies about 0.7 of the
#: way from the eyes' midpoint down to the nose landmark.
MESONET_CENTRE_ALONG_NOSE = 0.7


def face_scale(landmarks: np.ndarray) -> float:
    """max(inter-ocular distance, eyes-to-mouth distance) in pixels: the face's size."""
    points = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    eyes, mouth = points[:2].mean(axis=0), points[3:].mean(axis=0)
    return float(max(np.linalg.norm(points[1] - points[0]), np.linalg.norm(mouth - eyes)))


def _rotated_square(image: np.ndarray, centre: np.ndarray, down: np.ndarray, side: float,
                    size: int) -> tuple[np.ndarray, np.ndarray]:
    """Crop of ``side`` pixels around ``centre`` with ``down`` as its +y axis, resized to ``size``.

    Returns (crop, crop_to_image) where crop_to_image is the 2x3 map of output pixels to image pixels.
    """
    import cv2

    down = down / max(np.linalg.norm(down), 1e-9)
    right = np.array([down[1], -down[0]])
    native = max(int(np.ceil(side)), 2)
    step = side / native
    # native crop pixel (u, v) -> image point centre + (u - native/2 + 0.5) * step * right + (...) * down
    to_image = np.zeros((2, 3))
    to_image[:, 0] = right * step
    to_image[:, 1] = down * step
    to_image[:, 2] = centre + (0.5 - native / 2) * step * (right + down)
    patch = cv2.warpAffine(image, to_image, (native, native), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REFLECT_101)
    interpolation = cv2.INTER_AREA if native > size else cv2.INTER_CUBIC
    crop = cv2.resize(patch, (size, size), interpolation=interpolation)
    zoom = native / size
    crop_to_image = to_image.copy()
    crop_to_image[:, :2] *= zoom
    crop_to_image[:, 2] = to_image[:, 2] + (zoom - 1) / 2 * (to_image[:, 0] + to_image[:, 1])
    return crop, crop_to_image


def mesonet_crop(image: np.ndarray, landmarks: np.ndarray, size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """MesoNet's aligned face: ``size`` x ``size`` RGB uint8 and its crop-to-image map."""
    points = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    eyes, mouth = points[:2].mean(axis=0), points[3:].mean(axis=0)
    centre = eyes + MESONET_CENTRE_ALONG_NOSE * (points[2] - eyes)
    return _rotated_square(image, centre, mouth - eyes, MESONET_SIDE_FACTOR * face_scale(points), size)


def aligned_crop(image: np.ndarray, landmarks: np.ndarray, size: int, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """ArcFace-template similarity alignment with the template shrunk by ``margin`` (0.25 = the
    face fills the middle 1 / 1.25 of the crop, showing the hairline, jaw and some background,
    where blending boundaries lie). Returns (crop, crop_to_image)."""
    import cv2

    template = (ARCFACE_TEMPLATE_112 - 56.0) / (1.0 + margin) + 56.0
    points = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    scale = float(np.hypot(*estimate_similarity(points, template * (size / 112.0))[:, 0]))
    native = max(size, int(np.ceil(size / scale))) if scale > 0 else size  # shrink after warping, not during
    image_to_native = estimate_similarity(points, template * (native / 112.0))
    patch = cv2.warpAffine(image, image_to_native, (native, native), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT_101)
    crop = patch if native == size else cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)
    return crop, cv2.invertAffineTransform(_centre_shift(image_to_native, native, size))


def _centre_shift(image_to_native: np.ndarray, native: int, size: int) -> np.ndarray:
    """image -> output map after resizing a native x native patch to size x size (pixel-centre convention)."""
    zoom = size / native
    matrix = image_to_native * zoom
    matrix[:, 2] += (zoom - 1) / 2
    return matrix
