"""Image perturbations for robustness tests: JPEG, blur, noise, down-scaling.

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


_KINDS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "jpeg": lambda image, value: jpeg(image, int(value)),
    "blur": blur,
    "noise": noise,
    "downscale": downscale,
}
#: The default robustness grid of ``facetrust eval forgery``.
DEFAULT_PERTURBATIONS = ("jpeg:50", "jpeg:30", "blur:1", "blur:2", "noise:5", "noise:10", "downscale:0.5",
                         "downscale:0.25")


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
