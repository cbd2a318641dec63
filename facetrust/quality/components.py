"""Explainable quality components measured on one face.

Every component is a plain number with a physical meaning (pixels, degrees,
grey levels) computed from the RGB image and the face's box and 5 landmarks;
docs/quality.md defines each one. Photometric components are measured on the
*inner face* of a canonical crop: the face warped onto the ArcFace 112x112
template (eyes, nose and mouth at fixed places, independent of the
recognizer), region x 28..84, y 36..100 — eyes to mouth, without hair or
background. Pixels that fall outside the image are excluded, not counted as
black.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from facetrust.alignment.similarity import ARCFACE_TEMPLATE_112, estimate_similarity
from facetrust.defaults import DEFAULT_DETECTOR
from facetrust.detection.landmarks import nose_point_of
from facetrust.errors import FaceQualityError

#: Inner-face region of the 112x112 canonical crop (x1, y1, x2, y2).
INNER_REGION = (28, 36, 84, 100)
#: Generic head geometry for pose from landmarks, in units of the inter-eye
#: distance: how far the detector's nose point lies below the eye line and in
#: front of the eye plane on a frontal face. Detectors differ in which nose
#: point they give (each declares it: ``nose_point``): YuNet (and the ArcFace
#: template, (71.7 - 51.6) / 35.2) the tip; dlib's 5-point shape predictor the
#: base of the nose (its median drop on LFW is 0.77, YuNet's 0.58). Depths: an
#: adult nose tip protrudes about 25 mm, the nose base about 15 mm; inter-pupil
#: distance is about 63 mm.
NOSE_POINTS: dict[str, tuple[float, float]] = {"tip": (0.571, 0.40), "base": (0.77, 0.25)}
#: Grey levels at or beyond which a pixel counts as clipped (under/over-exposed).
DARK_LEVEL, BRIGHT_LEVEL = 10, 245
#: Fewer valid inner-face pixels than this fraction and photometry is not measured.
MIN_VALID_FRACTION = 0.5
#: Below this eye distance (pixels) a face has too few pixels for any component to mean anything.
MIN_EYE_PX = 4.0

COMPONENT_NAMES: tuple[str, ...] = (
    "inter_eye_px", "face_size_ratio", "inside_fraction", "yaw_deg", "pitch_deg", "roll_deg",
    "sharpness", "brightness", "contrast", "dark_fraction", "bright_fraction", "illumination_uniformity",
    "colourfulness",
)


def check_face(image: np.ndarray, box: tuple[float, float, float, float], landmarks: np.ndarray | None) -> np.ndarray:
    """Validate the inputs every component needs; returns landmarks as a (5, 2) float64 array."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise FaceQualityError(f"quality needs an RGB uint8 image (H, W, 3), got {image.dtype} {image.shape}")
    if landmarks is None:
        raise FaceQualityError("quality needs the face's 5 landmarks (eyes, nose, mouth corners); this face has none")
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape != (5, 2) or not np.all(np.isfinite(points)):
        raise FaceQualityError(f"quality needs 5 finite (x, y) landmarks, got shape {points.shape}")
    x1, y1, x2, y2 = box
    if not (x2 > x1 and y2 > y1):
        raise FaceQualityError(f"face box {tuple(round(v, 1) for v in box)} is empty")
    eye_px = float(np.linalg.norm(points[1] - points[0]))
    if eye_px < MIN_EYE_PX:
        raise FaceQualityError(f"face too small to assess: {eye_px:.1f} px between the eyes "
                               f"(at least {MIN_EYE_PX:g} needed)")
    return points


def geometry(image_shape: tuple[int, ...], box: tuple[float, float, float, float], points: np.ndarray,
             nose_point: str = "tip") -> dict[str, float]:
    """Size and head pose from the box and the 5 landmarks (``nose_point``: see :data:`NOSE_POINTS`)."""
    nose_drop, nose_depth = NOSE_POINTS[nose_point]
    height, width = image_shape[:2]
    left_eye, right_eye, nose = points[0], points[1], points[2]
    eye_vector = right_eye - left_eye
    inter_eye = float(np.linalg.norm(eye_vector))
    roll = math.degrees(math.atan2(eye_vector[1], eye_vector[0]))
    # Nose offset from the eye midpoint in the face's own (roll-corrected) frame, in eye distances.
    cos_r, sin_r = eye_vector / inter_eye
    offset = nose - (left_eye + right_eye) / 2.0
    across = (offset[0] * cos_r + offset[1] * sin_r) / inter_eye
    down = (-offset[0] * sin_r + offset[1] * cos_r) / inter_eye
    # Orthographic generic head: yaw shortens the eye distance by cos(yaw) and moves the
    # nose sideways by depth*sin(yaw), so across = depth*tan(yaw); pitch rotates the
    # (drop, depth) vector, so down = R*cos(pitch + alpha).
    yaw = math.degrees(math.atan(across / nose_depth))
    radius = math.hypot(nose_drop, nose_depth)
    alpha = math.atan2(nose_depth, nose_drop)
    pitch = math.degrees(math.acos(max(-1.0, min(1.0, down * math.cos(math.radians(yaw)) / radius))) - alpha)
    x1, y1, x2, y2 = box
    return {
        "inter_eye_px": inter_eye,
        "face_size_ratio": math.sqrt((x2 - x1) * (y2 - y1) / float(width * height)),
        "yaw_deg": yaw,
        "pitch_deg": pitch,
        "roll_deg": roll,
    }


def canonical_crop(image: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The face on the ArcFace 112x112 template, and a mask of the pixels that came from inside the image.

    A face larger than the template is first shrunk with area averaging, so
    that downsampling cannot alias noise into false 'sharpness'.
    """
    height, width = image.shape[:2]
    to_crop = estimate_similarity(points, ARCFACE_TEMPLATE_112)
    scale = float(np.hypot(*to_crop[:, 0]))  # crop pixels per image pixel
    # The image area the crop sees, plus a margin for the interpolation kernel.
    corners = np.array([[0, 0], [112, 0], [0, 112], [112, 112]], dtype=np.float64)
    inverse = cv2.invertAffineTransform(to_crop)
    seen = corners @ inverse[:, :2].T + inverse[:, 2]
    x0, y0 = (int(max(0, np.floor(v) - 2)) for v in seen.min(axis=0))
    x1, y1 = (int(min(limit, np.ceil(v) + 2)) for v, limit in zip(seen.max(axis=0), (width, height)))
    if x1 <= x0 or y1 <= y0:
        return np.zeros((112, 112, 3), np.uint8), np.zeros((112, 112), bool)
    region = image[y0:y1, x0:x1]
    shrink = min(1.0, scale)
    if shrink < 1.0:
        size = (max(1, round(region.shape[1] * shrink)), max(1, round(region.shape[0] * shrink)))
        region = cv2.resize(region, size, interpolation=cv2.INTER_AREA)
        shrink_x, shrink_y = size[0] / (x1 - x0), size[1] / (y1 - y0)
    else:
        shrink_x = shrink_y = 1.0
    local = (points - [x0, y0]) * [shrink_x, shrink_y]
    matrix = estimate_similarity(local, ARCFACE_TEMPLATE_112)
    crop = cv2.warpAffine(region, matrix, (112, 112), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    # The region holds everything the crop sees, so crop pixels mapped outside it lie outside the image.
    inside = np.full(region.shape[:2], 255, dtype=np.uint8)
    mask = cv2.warpAffine(inside, matrix, (112, 112), flags=cv2.INTER_NEAREST, borderValue=0) > 0
    return crop, mask


def photometry(crop: np.ndarray, mask: np.ndarray) -> dict[str, float | None]:
    """Sharpness, exposure, contrast, left/right uniformity and colour of the inner face."""
    x1, y1, x2, y2 = INNER_REGION
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32)
    # Laplacian of pixels next to the image border would see the black fill: shrink the mask.
    valid = mask[y1:y2, x1:x2] & cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)[y1:y2, x1:x2]
    if valid.mean() < MIN_VALID_FRACTION:
        return dict.fromkeys(("sharpness", "brightness", "contrast", "dark_fraction", "bright_fraction",
                              "illumination_uniformity", "colourfulness"))
    inner = grey[y1:y2, x1:x2]
    values = inner[valid]
    laplacian = cv2.Laplacian(grey, cv2.CV_32F, ksize=1)[y1:y2, x1:x2][valid]
    half = (x2 - x1) // 2
    left, right = inner[:, :half][valid[:, :half]], inner[:, half:][valid[:, half:]]
    if len(left) and len(right) and max(left.mean(), right.mean()) > 0:
        uniformity = float(min(left.mean(), right.mean()) / max(left.mean(), right.mean()))
    else:
        uniformity = None
    return {
        "sharpness": float(laplacian.var()),
        "brightness": float(values.mean()),
        "contrast": float(values.std()),
        "dark_fraction": float(np.mean(values <= DARK_LEVEL)),
        "bright_fraction": float(np.mean(values >= BRIGHT_LEVEL)),
        "illumination_uniformity": uniformity,
        "colourfulness": colourfulness(crop[y1:y2, x1:x2][valid]),
    }


def colourfulness(pixels: np.ndarray) -> float | None:
    """Hasler & Süsstrunk's colourfulness of (N, 3) RGB pixels; None for a grayscale image.

    A grey image (R = G = B everywhere, e.g. LFW-a) carries no colour, so the
    value is *unavailable* rather than 0, which would read as 'washed out'.
    """
    rgb = pixels.astype(np.float32)
    if np.array_equal(rgb[:, 0], rgb[:, 1]) and np.array_equal(rgb[:, 1], rgb[:, 2]):
        return None
    rg = rgb[:, 0] - rgb[:, 1]
    yb = 0.5 * (rgb[:, 0] + rgb[:, 1]) - rgb[:, 2]
    return float(math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean()))


def measure(image: np.ndarray, box: tuple[float, float, float, float], landmarks: np.ndarray | None,
            detector: str = DEFAULT_DETECTOR) -> dict[str, float | None]:
    """All components of one face, keyed as in :data:`COMPONENT_NAMES`; None = not measurable.

    ``detector`` names the detector that gave the landmarks (its declared ``nose_point`` says which
    nose point they hold; ConfigError for a detector that declares none).
    """
    nose_point = nose_point_of(detector)
    points = check_face(image, box, landmarks)
    crop, mask = canonical_crop(image, points)
    # Detectors clip their boxes to the image, so the box cannot tell whether the face is
    # cut; the canonical crop (forehead to chin, ear to ear) can.
    framing = {"inside_fraction": float(mask.mean())}
    values = {**geometry(image.shape, box, points, nose_point), **framing, **photometry(crop, mask)}
    return {name: values[name] for name in COMPONENT_NAMES}
