"""The MiniFASNet input crop, exactly as Silent-Face-Anti-Spoofing cuts it.

The reference (``src/generate_patches.py``, ``CropImage``) takes the face box as
integer ``(x, y, w, h)`` — its detector reports ``int(left), int(top),
int(right - left + 1), int(bottom - top + 1)`` — and then:

1. caps the scale so the enlarged box fits the image:
   ``scale = min((H - 1) / h, (W - 1) / w, scale)``;
2. enlarges the box by ``scale`` around its centre ``(x + w/2, y + h/2)``;
3. **shifts** (does not clip) the enlarged box back inside the image when it
   sticks out on one side, keeping its size — so near a border the face is no
   longer centred in the crop;
4. truncates the corners with ``int()`` and slices
   ``image[top : bottom + 1, left : right + 1]`` (both ends inclusive);
5. resizes that patch to 80x80 with OpenCV's default bilinear interpolation.

The models read that patch as BGR 0..255 (no normalisation).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

INPUT_SIZE = 80


def reference_xywh(box: Sequence[float]) -> tuple[int, int, int, int]:
    """Our (x1, y1, x2, y2) float box in the reference detector's integer (x, y, w, h) convention."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return int(x1), int(y1), int(x2 - x1 + 1), int(y2 - y1 + 1)


def capped_scale(width: int, height: int, xywh: Sequence[int], scale: float) -> float:
    """The scale the reference actually crops at: ``scale``, capped so the enlarged box fits the image.

    The only step of the reference crop that loses context (shifting keeps the window's size):
    on a face crop, where the face fills the image, it falls to about 1.
    """
    box_w, box_h = xywh[2], xywh[3]
    if box_w <= 0 or box_h <= 0:
        raise ValueError(f"face box must have a positive size, got w={box_w}, h={box_h}")
    return min((height - 1) / box_h, min((width - 1) / box_w, scale))


def crop_window(width: int, height: int, xywh: Sequence[int], scale: float) -> tuple[int, int, int, int]:
    """Inclusive pixel window ``(left, top, right, bottom)`` of the reference crop.

    ``width``/``height`` are the image's; ``xywh`` the integer face box.
    """
    x, y, box_w, box_h = xywh
    scale = capped_scale(width, height, xywh, scale)
    new_w, new_h = box_w * scale, box_h * scale
    centre_x, centre_y = box_w / 2 + x, box_h / 2 + y
    left, top = centre_x - new_w / 2, centre_y - new_h / 2
    right, bottom = centre_x + new_w / 2, centre_y + new_h / 2
    if left < 0:
        right -= left
        left = 0
    if top < 0:
        bottom -= top
        top = 0
    if right > width - 1:
        left -= right - width + 1
        right = width - 1
    if bottom > height - 1:
        top -= bottom - height + 1
        bottom = height - 1
    return int(left), int(top), int(right), int(bottom)


def reference_crop(image: np.ndarray, box: Sequence[float], scale: float) -> np.ndarray:
    """80x80x3 uint8 **BGR** model input from an RGB uint8 image and an (x1, y1, x2, y2) box."""
    import cv2

    height, width = image.shape[:2]
    left, top, right, bottom = crop_window(width, height, reference_xywh(box), scale)
    patch = image[top: bottom + 1, left: right + 1, ::-1]  # RGB -> BGR
    return cv2.resize(np.ascontiguousarray(patch), (INPUT_SIZE, INPUT_SIZE))


def face_patch(image: np.ndarray, box: Sequence[float], size: int, scale: float = 1.0) -> np.ndarray:
    """``size`` x ``size`` RGB uint8 patch of the face box enlarged by ``scale`` (the reference window).

    The cue models read the face itself (``scale=1``), resized to a fixed size so that
    frequencies and texture scales are measured in the same units for every face;
    shrinking uses area averaging (no aliasing of our own), enlarging bilinear.
    """
    import cv2

    height, width = image.shape[:2]
    left, top, right, bottom = crop_window(width, height, reference_xywh(box), scale)
    patch = np.ascontiguousarray(image[top: bottom + 1, left: right + 1])
    shrink = patch.shape[0] > size and patch.shape[1] > size
    return cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
