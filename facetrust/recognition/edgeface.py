"""EdgeFace (Idiap, BSD-3-Clause): EdgeNeXt backbones, 512-d, ArcFace alignment.

The ONNX files are float exports of the author's int8 checkpoints; see
``facetrust/recognition/export/edgeface_onnx.py`` for how they are made and checked.
"""
from __future__ import annotations

from facetrust.recognition.onnx_recognizer import OnnxArcFaceRecognizer


class EdgeFaceXSRecognizer(OnnxArcFaceRecognizer):
    """EdgeFace-XS (edgenext_x_small): RGB, (x/255 - 0.5)/0.5."""

    name = "edgeface-xs"
    dim = 512
    calibration = "edgeface-xs"
    zoo_models = ("edgeface-xs",)


class EdgeFaceXXSRecognizer(OnnxArcFaceRecognizer):
    """EdgeFace-XXS (edgenext_xx_small): about half the cost of XS, slightly weaker."""

    name = "edgeface-xxs"
    dim = 512
    calibration = "edgeface-xxs"
    zoo_models = ("edgeface-xxs",)
