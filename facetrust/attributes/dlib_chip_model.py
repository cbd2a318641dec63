"""The dlib-models attribute networks by Cydral (CC0-1.0), exported to ONNX and shipped in the
package: a colour dlib face chip in, class probabilities out (run with onnxruntime)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from facetrust.attributes.inputs import FaceInputs
from facetrust.attributes.packaged import packaged_model

#: dlib's ``input_rgb_image`` normalisation: (x - mean) / 256 per RGB channel.
RGB_MEAN = np.array([122.782, 117.001, 104.298], dtype=np.float32)


class DlibChipModel:
    """Probabilities of one packaged model for the colour faces given."""

    file: str
    chip_size: int

    def __init__(self, device: str = "cpu", model_folder: str | Path | None = None) -> None:
        from facetrust.runtime import onnx_session

        self._session = onnx_session(packaged_model(self.file, Path(model_folder) if model_folder else None), device)

    def probabilities(self, faces: list[FaceInputs]) -> np.ndarray:
        """(N, classes) float64 for the faces' chips, in one batch."""
        return self.run(np.stack([face.chip(self.chip_size) for face in faces]))

    def run(self, chips: np.ndarray) -> np.ndarray:
        """(N, classes) float64 for (N, size, size, 3) RGB uint8 chips, in one batch."""
        images = ((chips.astype(np.float32) - RGB_MEAN) / 256.0).transpose(0, 3, 1, 2)
        return self._session.run(None, {"images": np.ascontiguousarray(images)})[0].astype(np.float64)


def colour_faces(faces: list[FaceInputs], model: str) -> tuple[list[int], dict[int, dict]]:
    """Indices of the faces a colour model can judge, and the ``unavailable`` results of the others."""
    from facetrust.attributes.inputs import unavailable

    skipped: dict[int, dict] = {}
    for i, face in enumerate(faces):
        if (reason := face.too_small) is not None:
            skipped[i] = unavailable("face_too_small", reason, model)
        elif face.grayscale:
            skipped[i] = unavailable("grayscale", "grayscale image: this model needs colour and does not guess "
                                     "without it", model)
    return [i for i in range(len(faces)) if i not in skipped], skipped
