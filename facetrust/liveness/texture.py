"""Colour-texture cue: uniform LBP histograms of the face in YCrCb and HSV.

Recapturing a face through a printer or a screen changes its fine texture and,
more visibly, its chroma texture (limited colour gamut, halftone dots, screen
subpixels); Boulkenafet, Komulainen & Hadid (ICIP 2015, "Face anti-spoofing based
on color texture analysis") showed LBP histograms of the chroma channels of YCbCr
and HSV separate these far better than grayscale texture.

Features: the face box resized to :data:`PATCH` x :data:`PATCH`, converted to YCrCb
and HSV; on each of the 6 channels the rotation-invariant uniform LBP (8
neighbours at radius 1, the ``riu2`` mapping: codes 0..8 = number of set bits of
a uniform pattern, 9 = every non-uniform pattern) and its normalised 10-bin
histogram. 60 numbers in [0, 1], named ``lbp_<space>_<channel>_<code>``.

A histogram is not a probability of "live": it needs a classifier, and the
classifier needs labelled data from the deployment's cameras and attacks. So the
model reports ``score=None`` (the checker says "unavailable: not fitted") until a
calibration — an L2-regularised logistic regression on the log-odds of the 60
bins, fitted by :func:`facetrust.liveness.calibration.fit_presentations` — is given.
Nothing fitted ships with facetrust: the only attack images available to the
project are two, far too few to fit 60 weights — fitted with ~1,000 UTKFace bona
fide faces, it accepted the attack type left out in both folds of a
leave-one-attack-out test (docs/liveness.md, "Cue fit on UTKFace").

scikit-image is not a base dependency, so LBP is computed here with numpy (the
classic 3x3 neighbourhood: diagonal neighbours at the corner pixels, not
interpolated on the unit circle).
"""
from __future__ import annotations

import numpy as np

from facetrust.liveness.base import Box, LivenessScores
from facetrust.liveness.crop import face_patch

PATCH = 64
BINS = 10  # riu2 with 8 neighbours: 0..8 uniform, 9 non-uniform
# The 8 neighbours in circular order (dy, dx): circular order matters for counting 0/1 transitions.
_NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))
SPACES = (("ycrcb", ("y", "cr", "cb")), ("hsv", ("h", "s", "v")))


def _riu2_table() -> np.ndarray:
    table = np.empty(256, dtype=np.int64)
    for code in range(256):
        bits = [(code >> i) & 1 for i in range(8)]
        transitions = sum(bits[i] != bits[(i + 1) % 8] for i in range(8))
        table[code] = sum(bits) if transitions <= 2 else BINS - 1
    return table


_RIU2 = _riu2_table()


def uniform_lbp(channel: np.ndarray) -> np.ndarray:
    """riu2 LBP codes (0..9) of the interior pixels of a 2-D array (the 1-pixel border has no full neighbourhood)."""
    x = channel.astype(np.int32)
    centre = x[1:-1, 1:-1]
    height, width = centre.shape
    code = np.zeros(centre.shape, dtype=np.int64)
    for bit, (dy, dx) in enumerate(_NEIGHBOURS):
        neighbour = x[1 + dy: 1 + dy + height, 1 + dx: 1 + dx + width]
        code |= (neighbour >= centre).astype(np.int64) << bit
    return _RIU2[code]


def lbp_histogram(channel: np.ndarray) -> np.ndarray:
    codes = uniform_lbp(channel)
    return np.bincount(codes.ravel(), minlength=BINS) / codes.size


def colour_texture_features(patch_rgb: np.ndarray) -> dict[str, float]:
    """The 60 LBP-histogram bins of an RGB uint8 face patch."""
    import cv2

    converted = {"ycrcb": cv2.cvtColor(patch_rgb, cv2.COLOR_RGB2YCrCb),
                 "hsv": cv2.cvtColor(patch_rgb, cv2.COLOR_RGB2HSV)}
    features: dict[str, float] = {}
    for space, channels in SPACES:
        for index, channel in enumerate(channels):
            for code, share in enumerate(lbp_histogram(converted[space][:, :, index])):
                features[f"lbp_{space}_{channel}_{code}"] = float(share)
    return features


class ColourTextureCue:
    """``lbp-colour``: LBP histograms in YCrCb + HSV; P(live) only through a fitted calibration."""

    name = "lbp-colour"
    scales = (1.0,)
    zoo_models: tuple[str, ...] = ()

    def __init__(self, device: str = "cpu") -> None:
        self.device = device  # numpy + OpenCV only; accepted for the registry's common signature

    def predict(self, image: np.ndarray, box: Box) -> LivenessScores:
        return LivenessScores(None, colour_texture_features(face_patch(image, box, PATCH)))
