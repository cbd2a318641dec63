"""InsightFace w600k_mbf (buffalo_s): MobileFaceNet trained on WebFace600K, 512-d.

NON-COMMERCIAL weights: the zoo flags them and loading warns
(:class:`facetrust.zoo.store.NonCommercialLicenseWarning`); never a default.
"""
from __future__ import annotations

from facetrust.recognition.onnx_recognizer import OnnxArcFaceRecognizer


class W600kMbfRecognizer(OnnxArcFaceRecognizer):
    """RGB, (x - 127.5)/127.5, ArcFace alignment; flip-sum does not help it on LFW-a."""

    name = "w600k-mbf"
    dim = 512
    calibration = "w600k-mbf"
    zoo_models = ("w600k-mbf",)
