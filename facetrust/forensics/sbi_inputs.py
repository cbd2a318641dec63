"""Input tensors of the project's SBI detector, shared by training and inference (numpy only).

Two inputs per face crop (:data:`INPUT_SIZE` square, aligned with
:func:`facetrust.forensics.crop.aligned_crop` at :data:`CROP_MARGIN`):

* ``rgb``: (N, 3, S, S) float32, ``(x / 255 - 0.5) / 0.25``;
* ``spectrum``: (N, 1, S, S) float32, the centred log-magnitude of the 2-D FFT of the
  crop's luminance, standardised per image. Blending and resampling change the
  high-frequency energy (the outer part of the spectrum); the spectrum makes that a
  global, position-free cue next to the spatial one.
"""
from __future__ import annotations

import numpy as np

INPUT_SIZE = 96
CROP_MARGIN = 0.3
HEATMAP_SIZE = 24
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def spectrum(crops: np.ndarray) -> np.ndarray:
    """(N, S, S, 3) uint8 -> (N, 1, S, S) float32 standardised log |FFT| of the luminance."""
    luma = crops.astype(np.float32) @ _LUMA / 255.0
    luma -= luma.mean(axis=(1, 2), keepdims=True)
    magnitude = np.log1p(np.abs(np.fft.fftshift(np.fft.fft2(luma), axes=(1, 2)))).astype(np.float32)
    magnitude -= magnitude.mean(axis=(1, 2), keepdims=True)
    magnitude /= magnitude.std(axis=(1, 2), keepdims=True) + 1e-6
    return magnitude[:, None]


def model_inputs(crops: np.ndarray) -> dict[str, np.ndarray]:
    """The ONNX model's feed for a batch of RGB uint8 crops (N, S, S, 3)."""
    crops = np.asarray(crops)
    if crops.ndim != 4 or crops.shape[1:] != (INPUT_SIZE, INPUT_SIZE, 3) or crops.dtype != np.uint8:
        raise ValueError(f"expected (N, {INPUT_SIZE}, {INPUT_SIZE}, 3) uint8 crops, got {crops.shape} {crops.dtype}")
    rgb = (crops.astype(np.float32).transpose(0, 3, 1, 2) / 255.0 - 0.5) / 0.25
    return {"rgb": np.ascontiguousarray(rgb), "spectrum": spectrum(crops)}
