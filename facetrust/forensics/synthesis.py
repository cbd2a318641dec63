"""Pseudo-fake synthesis from real faces only: self-blended images (Shiohara &
Yamasaki, CVPR 2022) and their video-level variant, plus a landmark-aligned face
swap for building test clips. numpy + OpenCV, no torch (the trainer imports this).

A self-blended image pastes a colour- and geometry-perturbed copy of a face onto
the face itself inside a soft, landmark-derived mask. The result keeps identity and
pose but carries the traces every face-replacement method leaves: a blending
boundary, a colour/contrast mismatch and a resampling difference between inside
and outside the mask. The mask (times the blend ratio) is the localisation target.

Masks come from the 5 landmarks (``LANDMARK_ORDER``): the hull of the landmarks plus
points extrapolated to the brows, the cheeks and the chin, elastically jittered,
then randomly eroded or dilated and blurred, so the boundary's position and
softness vary.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Blend ratios as in SBI: mostly a full paste, sometimes a partial one.
BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)


def is_gray(image: np.ndarray) -> bool:
    """True when the 3 channels are (nearly) equal: a grayscale face stored as RGB."""
    sample = image[::2, ::2].astype(np.int16)
    return bool(np.mean(sample.max(axis=2) - sample.min(axis=2) <= 2) > 0.99)


def face_hull_points(landmarks: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """Polygon around the face from 5 landmarks: brows, temples, cheeks, jaw, chin.

    Distances are in units of the eyes-to-mouth distance; ``rng`` jitters each
    extrapolation factor by up to +-20% (mask-shape augmentation).
    """
    points = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    left_eye, right_eye, nose, mouth_left, mouth_right = points
    eyes, mouth = (left_eye + right_eye) / 2, (mouth_left + mouth_right) / 2
    down = mouth - eyes
    length = max(np.linalg.norm(down), 1e-6)
    down /= length
    right = np.array([-down[1], down[0]]) if np.dot(right_eye - left_eye, [-down[1], down[0]]) > 0 \
        else np.array([down[1], -down[0]])

    def jitter(value: float) -> float:
        return value * (1.0 + (rng.uniform(-0.2, 0.2) if rng is not None else 0.0))

    offsets = [  # (anchor, along `right`, along `down`) in eyes-to-mouth units
        (left_eye, -jitter(0.45), -jitter(0.55)), (right_eye, jitter(0.45), -jitter(0.55)),   # brows / temples
        (eyes, 0.0, -jitter(0.75)),                                                            # forehead
        (left_eye, -jitter(0.6), jitter(0.3)), (right_eye, jitter(0.6), jitter(0.3)),          # cheekbones
        (mouth_left, -jitter(0.45), jitter(0.1)), (mouth_right, jitter(0.45), jitter(0.1)),    # jaw
        (mouth, 0.0, jitter(0.6)),                                                             # chin
        (mouth_left, -jitter(0.2), jitter(0.45)), (mouth_right, jitter(0.2), jitter(0.45)),
    ]
    extra = [anchor + length * (dx * right + dy * down) for anchor, dx, dy in offsets]
    return np.vstack([points, np.array(extra)])


def face_mask(shape: tuple[int, int], landmarks: np.ndarray, rng: np.random.Generator | None = None,
              hull_only: bool = False) -> np.ndarray:
    """Soft mask (H, W) float32 in [0, 1] of the face region; random erosion/dilation and blur with ``rng``."""
    import cv2

    height, width = shape
    points = face_hull_points(landmarks, rng)
    mask = np.zeros((height, width), dtype=np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(points).astype(np.int32)), 255)
    if hull_only or rng is None:
        return mask.astype(np.float32) / 255.0
    size = max(3, int(round(min(height, width) * rng.uniform(0.02, 0.08))) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    roll = rng.uniform()
    if roll < 0.4:
        mask = cv2.erode(mask, kernel)
    elif roll < 0.6:
        mask = cv2.dilate(mask, kernel)
    sigma = min(height, width) * rng.uniform(0.01, 0.06)
    soft = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), sigma)
    # re-normalise so the inside reaches 1 again after blurring a thin region
    return np.clip(soft / max(float(soft.max()), 1e-6), 0.0, 1.0)


def colour_jitter(image: np.ndarray, rng: np.random.Generator, keep_gray: bool) -> np.ndarray:
    """Random brightness/contrast, and (colour faces only) per-channel shifts and hue/saturation."""
    import cv2

    out = image.astype(np.float32)
    out = (out - 128.0) * rng.uniform(0.85, 1.15) + 128.0 + rng.uniform(-20, 20)
    if not keep_gray:
        out += rng.uniform(-15, 15, size=3)
        hsv = cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV).astype(np.float32)
        hsv[..., 0] = (hsv[..., 0] + rng.uniform(-6, 6)) % 180
        hsv[..., 1] *= rng.uniform(0.8, 1.2)
        out = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)


def frequency_jitter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Resampling or sharpening difference: down-and-up scaling, blur, or unsharp masking."""
    import cv2

    height, width = image.shape[:2]
    roll = rng.uniform()
    if roll < 0.4:
        factor = rng.uniform(0.4, 0.8)
        small = cv2.resize(image, (max(8, int(width * factor)), max(8, int(height * factor))),
                           interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    if roll < 0.7:
        return cv2.GaussianBlur(image, (0, 0), rng.uniform(0.5, 1.5))
    blurred = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.8, 2.0))
    return cv2.addWeighted(image, 1.5, blurred, -0.5, 0)


def geometry_jitter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Small random scale (0.95-1.05) and shift (up to 3% of the size) about the centre."""
    import cv2

    height, width = image.shape[:2]
    scale = rng.uniform(0.95, 1.05)
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), 0.0, scale)
    matrix[:, 2] += rng.uniform(-0.03, 0.03, size=2) * (width, height)
    return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


@dataclass(frozen=True)
class Blend:
    """One synthesised pseudo-fake: the image and its ground-truth blending mask (mask x ratio)."""

    image: np.ndarray  # RGB uint8
    mask: np.ndarray  # float32 in [0, 1]


def self_blend(face: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> Blend:
    """A self-blended image: ``face`` with a perturbed copy of itself pasted inside a landmark mask.

    Which of the two copies is the "source" is random, as in SBI; grayscale faces get
    luminance-only perturbations so they stay gray.
    """
    keep_gray = is_gray(face)
    source, target = face.copy(), face.copy()
    if rng.uniform() < 0.5:
        source = colour_jitter(source, rng, keep_gray)
    else:
        target = colour_jitter(target, rng, keep_gray)
    source = frequency_jitter(source, rng) if rng.uniform() < 0.7 else source
    source = geometry_jitter(source, rng)
    mask = face_mask(face.shape[:2], landmarks, rng) * float(rng.choice(BLEND_RATIOS))
    blended = source.astype(np.float32) * mask[..., None] + target.astype(np.float32) * (1.0 - mask[..., None])
    return Blend(np.clip(np.round(blended), 0, 255).astype(np.uint8), mask.astype(np.float32))


def blend_clip(frames: list[np.ndarray], landmarks: list[np.ndarray], seed: int,
               consistent: bool = True) -> list[Blend]:
    """Video-level self-blending of a face track (aligned crops of one face).

    ``consistent=True`` draws the perturbation once and applies it to every frame (the
    temporally coherent fake of StA-style video blending); ``False`` redraws it each frame,
    which reproduces the frame-to-frame flicker of per-frame face replacement.
    """
    out = []
    for index, (frame, points) in enumerate(zip(frames, landmarks)):
        rng = np.random.default_rng(seed if consistent else seed + index)
        out.append(self_blend(frame, points, rng))
    return out


def swap_face(target: np.ndarray, target_landmarks: np.ndarray, source: np.ndarray, source_landmarks: np.ndarray,
              rng: np.random.Generator | None = None, jitter: float = 0.0) -> Blend:
    """Paste ``source``'s face onto ``target``'s (a crude face swap for building test data).

    The source is warped onto the target's 5 landmarks (similarity; ``jitter`` adds random
    misalignment in pixels per landmark), colour-matched to the target inside the mask
    (mean/std per Lab channel), and blended with a soft hull mask.
    """
    import cv2

    from facetrust.alignment.similarity import estimate_similarity

    points = np.asarray(target_landmarks, dtype=np.float64).reshape(5, 2)
    if jitter and rng is not None:
        points = points + rng.normal(0.0, jitter, size=points.shape)
    matrix = estimate_similarity(np.asarray(source_landmarks, dtype=np.float64).reshape(5, 2), points)
    height, width = target.shape[:2]
    warped = cv2.warpAffine(source, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    mask = face_mask((height, width), target_landmarks, rng)
    inside = mask > 0.5
    if inside.any():
        warped_lab = cv2.cvtColor(warped, cv2.COLOR_RGB2LAB).astype(np.float32)
        target_lab = cv2.cvtColor(target, cv2.COLOR_RGB2LAB).astype(np.float32)
        for channel in range(3):
            src, dst = warped_lab[..., channel][inside], target_lab[..., channel][inside]
            warped_lab[..., channel] = (warped_lab[..., channel] - src.mean()) / (src.std() + 1e-6) * dst.std() + dst.mean()
        warped = cv2.cvtColor(np.clip(warped_lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
    blended = warped.astype(np.float32) * mask[..., None] + target.astype(np.float32) * (1.0 - mask[..., None])
    return Blend(np.clip(np.round(blended), 0, 255).astype(np.uint8), mask)
