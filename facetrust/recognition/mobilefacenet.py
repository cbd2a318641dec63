"""MobileFaceNet (foamliu, ONNX): 112x112 ArcFace-aligned RGB, ImageNet normalisation, 128-d."""
from __future__ import annotations

import numpy as np

from facetrust.recognition.onnx_recognizer import OnnxArcFaceRecognizer


class MobileFaceNetRecognizer(OnnxArcFaceRecognizer):
    """``flip=True`` adds the embedding of the mirrored crop before normalising
    (the usual test-time augmentation; 2x cost, better accuracy)."""

    name = "mobilefacenet"
    dim = 128
    calibration = "mobilefacenet"
    zoo_models = ("mobilefacenet",)
    # ImageNet mean and std, on 0..255 pixel values.
    mean = np.array([0.485, 0.456, 0.406], dtype=np.float32) * 255.0
    std = np.array([0.229, 0.224, 0.225], dtype=np.float32) * 255.0

    def __init__(self, flip: bool = True, device: str = "cpu") -> None:
        super().__init__(flip=flip, device=device)
