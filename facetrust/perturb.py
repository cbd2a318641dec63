"""Image perturbations for robustness tests, shared by the forgery evaluation and the audits:
JPEG, Gaussian and motion blur, noise, down-scaling, brightness, contrast, gamma, and two
occlusions placed from a face's 5 landmarks (a sunglasses-like band, a mask-like lower-face patch).

Each is deterministic (noise uses a fixed seed per call) so evaluations repeat
exactly. Down-scaling shrinks the image and scales it back up to its size: the face
keeps its pixel size (so the same faces stay above the minimum size) and only loses
detail, as a low-resolution upload that was enlarged again.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from facetrust.errors import ConfigError


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    import cv2

    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(image[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return np.ascontiguousarray(cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1])


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(image, (0, 0), float(sigma))


def noise(image: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(image.astype(np.float32) + rng.normal(0.0, float(sigma), image.shape), 0, 255).astype(np.uint8)


def downscale(image: np.ndarray, factor: float) -> np.ndarray:
    import cv2

    height, width = image.shape[:2]
    small = cv2.resize(image, (max(1, round(width * factor)), max(1, round(height * factor))),
                       interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def motion_blur(image: np.ndarray, length: float) -> np.ndarray:
    """Horizontal motion blur over ``length`` pixels."""
    import cv2

    size = max(1, int(round(length)))
    kernel = np.full((1, size), 1.0 / size, dtype=np.float32)
    return cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT)


def brightness(image: np.ndarray, factor: float) -> np.ndarray:
    """Every pixel times ``factor`` (< 1 darkens: under-exposure)."""
    return np.clip(image.astype(np.float32) * float(factor), 0, 255).astype(np.uint8)


def contrast(image: np.ndarray, factor: float) -> np.ndarray:
    """Distances from the image's mean grey level times ``factor`` (< 1 flattens)."""
    mean = float(image.mean())
    return np.clip(mean + (image.astype(np.float32) - mean) * float(factor), 0, 255).astype(np.uint8)


def gamma(image: np.ndarray, value: float) -> np.ndarray:
    """``255 * (x / 255) ** value`` (> 1 darkens the mid-tones)."""
    table = np.clip(255.0 * (np.arange(256) / 255.0) ** float(value), 0, 255).astype(np.uint8)
    return table[image]


def _eye_line(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(centre between the eyes, mouth centre, eye distance) from 5 landmarks (eyes, nose, mouth corners)."""
    points = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    eyes, mouth = points[:2].mean(axis=0), points[3:5].mean(axis=0)
    return eyes, mouth, float(np.linalg.norm(points[0] - points[1]))


def sunglasses(image: np.ndarray, landmarks: np.ndarray, height: float) -> np.ndarray:
    """A black band over both eyes, 2 eye distances wide and ``height`` eye distances tall."""
    eyes, _, distance = _eye_line(landmarks)
    out = image.copy()
    x1, x2 = (int(round(eyes[0] + side * distance)) for side in (-1.0, 1.0))
    y1, y2 = (int(round(eyes[1] + side * height * distance / 2)) for side in (-1.0, 1.0))
    out[max(0, y1):max(0, y2), max(0, x1):max(0, x2)] = 0
    return out


def mask(image: np.ndarray, landmarks: np.ndarray, cover: float) -> np.ndarray:
    """A light-grey patch from below the chin up to ``cover`` of the way from the mouth to the eyes
    (0: up to the mouth line, 1: up to the eyes), 2.2 eye distances wide."""
    eyes, mouth, distance = _eye_line(landmarks)
    out = image.copy()
    top = int(round(mouth[1] - float(cover) * (mouth[1] - eyes[1])))
    bottom = int(round(mouth[1] + 1.2 * distance))
    x1, x2 = (int(round(mouth[0] + side * 1.1 * distance)) for side in (-1.0, 1.0))
    out[max(0, top):max(0, bottom), max(0, x1):max(0, x2)] = 200
    return out


#: Perturbations placed on the face: they take the face's 5 landmarks as a third argument.
OCCLUSIONS: dict[str, Callable[[np.ndarray, np.ndarray, float], np.ndarray]] = {
    "sunglasses": sunglasses, "mask": mask}

_KINDS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "jpeg": lambda image, value: jpeg(image, int(value)),
    "blur": blur,
    "noise": noise,
    "downscale": downscale,
    "motion_blur": motion_blur,
    "brightness": brightness,
    "contrast": contrast,
    "gamma": gamma,
}
#: The default robustness grid of ``facetrust eval forgery``.
DEFAULT_PERTURBATIONS = ("jpeg:50", "jpeg:30", "blur:1", "blur:2", "noise:5", "noise:10", "downscale:0.5",
                         "downscale:0.25")
#: Five severities per perturbation, mildest first, for the robustness audit (``facetrust audit robustness``).
SEVERITY_GRID: dict[str, tuple[float, ...]] = {
    "blur": (1, 2, 3, 4, 6),  # Gaussian sigma, pixels
    "motion_blur": (5, 9, 13, 17, 25),  # kernel length, pixels
    "noise": (5, 10, 20, 30, 45),  # Gaussian sigma, grey levels
    "jpeg": (50, 30, 20, 10, 5),  # quality
    "downscale": (0.5, 0.35, 0.25, 0.18, 0.12),  # scale factor
    "brightness": (0.7, 0.5, 0.35, 0.25, 0.15),  # intensity factor
    "contrast": (0.7, 0.5, 0.35, 0.25, 0.15),  # contrast factor
    "gamma": (1.5, 2.0, 2.5, 3.0, 4.0),
    "sunglasses": (0.3, 0.45, 0.6, 0.75, 0.9),  # band height, eye distances
    "mask": (0.0, 0.2, 0.4, 0.6, 0.8),  # how far from the mouth towards the eyes it reaches
}


def perturb_face(image: np.ndarray, kind: str, value: float, landmarks: np.ndarray | None) -> np.ndarray:
    """``kind`` at ``value`` on an RGB uint8 image; occlusions need the face's 5 landmarks."""
    if kind in OCCLUSIONS:
        if landmarks is None:
            raise ConfigError(f"perturbation {kind!r} needs the face's 5 landmarks (this detector gives none)")
        return OCCLUSIONS[kind](image, landmarks, float(value))
    if kind not in _KINDS:
        raise ConfigError(f"unknown perturbation {kind!r}; known: {', '.join([*_KINDS, *OCCLUSIONS])}")
    return _KINDS[kind](image, int(value) if kind == "jpeg" else float(value))


def parse_perturbation(spec: str) -> Callable[[np.ndarray], np.ndarray]:
    """``"jpeg:50"`` -> a function RGB uint8 -> RGB uint8."""
    kind, sep, value = spec.partition(":")
    if kind not in _KINDS or not sep:
        raise ConfigError(f"perturbation {spec!r} must be KIND:VALUE with KIND one of {', '.join(_KINDS)}")
    try:
        amount = float(value)
    except ValueError:
        raise ConfigError(f"perturbation {spec!r}: {value!r} is not a number") from None
    if (kind == "jpeg" and not 1 <= amount <= 100) or (kind == "downscale" and not 0 < amount <= 1) or amount < 0:
        raise ConfigError(f"perturbation {spec!r}: value out of range")
    function = _KINDS[kind]
    return lambda image: function(image, amount)
