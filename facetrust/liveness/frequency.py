"""Frequency-domain cue: high-frequency and periodic-peak (moiré) energy of the face.

A face recaptured from a screen carries the screen's pixel grid, which beats with
the camera's sensor grid into moiré: narrow, isolated peaks in the 2-D spectrum
away from the centre. A print loses fine detail (halftone blur) or adds a
halftone grid. Both change how the spectral energy is spread over frequencies.

On the face box, resized to :data:`PATCH` x :data:`PATCH` grayscale with a Hann
window (so the patch edges add no spurious energy), two numbers in [0, 1]:

* ``moire_hf_share``: share of the spectral energy above :data:`HIGH` cycles/pixel
  among all energy above :data:`LOW` (DC and the slow shading left out);
* ``moire_peak_share``: share of the band [:data:`LOW`, 0.5] energy that sits in
  *peaks*, bins whose magnitude exceeds :data:`PEAK_FACTOR` times the median of
  their own frequency ring — a face's spectrum falls off smoothly with radius, a
  periodic pattern does not.

Neither comes with a probability: which direction means "attack" depends on the
camera, screen and printer (a blurry print lowers the high-frequency share, a
screen's moiré raises it), so the model reports ``score=None`` and the checker says
"unavailable" until a calibration fitted on the deployment's own labelled data
turns the two numbers into P(live) (see :func:`facetrust.liveness.calibration.fit_presentations`).
"""
from __future__ import annotations

import numpy as np

from facetrust.liveness.base import Box, LivenessScores
from facetrust.liveness.crop import face_patch

PATCH = 128
LOW = 0.05  # cycles/pixel: below this is face shape and shading, not texture
HIGH = 0.25  # cycles/pixel: upper half of the band up to Nyquist (0.5)
PEAK_FACTOR = 8.0


def _radius(size: int) -> np.ndarray:
    f = np.fft.fftshift(np.fft.fftfreq(size))
    return np.hypot(*np.meshgrid(f, f, indexing="ij"))


def frequency_features(gray: np.ndarray) -> dict[str, float]:
    """``moire_hf_share`` and ``moire_peak_share`` of a square grayscale patch (any dtype)."""
    size = gray.shape[0]
    if gray.ndim != 2 or gray.shape[1] != size:
        raise ValueError(f"need a square 2-D patch, got shape {gray.shape}")
    patch = gray.astype(np.float64)
    window = np.outer(np.hanning(size), np.hanning(size))
    spectrum = np.abs(np.fft.fftshift(np.fft.fft2((patch - patch.mean()) * window)))
    energy = spectrum ** 2
    radius = _radius(size)
    band = (radius >= LOW) & (radius <= 0.5)
    total = energy[radius >= LOW].sum()
    if total <= 0:  # a flat patch: no texture at all, nothing to measure
        return {"moire_hf_share": 0.0, "moire_peak_share": 0.0}
    # Ring median at each bin's integer radius (in bins), the smooth fall-off a peak is compared with.
    ring = np.rint(radius * size).astype(int)
    medians = np.zeros(ring.max() + 1)
    for r in np.unique(ring[band]):
        medians[r] = np.median(spectrum[ring == r])
    peaks = band & (spectrum > PEAK_FACTOR * medians[ring])
    return {"moire_hf_share": float(energy[radius >= HIGH].sum() / total),
            "moire_peak_share": float(energy[peaks].sum() / energy[band].sum())}


class FrequencyCue:
    """``moire``: the two frequency-domain numbers of the face; P(live) only through a fitted calibration."""

    name = "moire"
    scales = (1.0,)
    zoo_models: tuple[str, ...] = ()

    def __init__(self, device: str = "cpu") -> None:
        self.device = device  # numpy only; accepted for the registry's common signature

    def predict(self, image: np.ndarray, box: Box) -> LivenessScores:
        import cv2

        gray = cv2.cvtColor(face_patch(image, box, PATCH), cv2.COLOR_RGB2GRAY)
        return LivenessScores(None, frequency_features(gray))
