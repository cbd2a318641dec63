"""OpenVINO Open Model Zoo face-reidentification-retail-0095 (Intel, Apache-2.0), 256-d.

The weights exist only as OpenVINO IR (FP16), so this recognizer runs on the
``openvino`` runtime (``pip install 'facetrust[openvino]'``) rather than on a
conversion whose exactness we would have to prove. Input: 128x128 BGR 0..255
aligned to the OMZ template: the 96x112 reference points scaled to 128x128.
Those points are the ArcFace 112x112 template shifted left by 8 px, so the
crop is made as the ArcFace crop's central 96 columns stretched to 128x128:
the same crop the OMZ template gives, and one that a fusion with ArcFace
models reproduces exactly from their shared crop (``facetrust.recognition.fusion``).
"""
from __future__ import annotations

from typing import Any, ClassVar, Sequence

import cv2
import numpy as np

from facetrust.alignment import align_arcface
from facetrust.errors import DeviceUnavailableError, ModelError, ModelNotAvailableError
from facetrust.recognition.base import l2_normalize
from facetrust.runtime import cpu_threads
from facetrust.registry import Option
from facetrust.types import Detection
from facetrust.zoo import model_file

_SIZE = 128
#: Columns of the ArcFace 112x112 crop that the OMZ 96x112 reference frame covers.
_OMZ_COLUMNS = slice(8, 104)


def _openvino() -> Any:
    try:
        import openvino
    except ImportError:
        raise ModelNotAvailableError(
            "reid-0095 needs the OpenVINO runtime: pip install 'facetrust[openvino]'"
        ) from None
    return openvino


class Reid0095Recognizer:
    """``flip=True`` (default) adds the mirrored crop's embedding: 99.42% vs 99.30% on LFW-a."""

    name = "reid-0095"
    dim = 256
    metric = "cosine"
    calibration = "reid-0095"
    zoo_models = ("reid-0095",)
    OPTIONS: ClassVar[dict[str, Option]] = {"flip": Option(bool), "device": Option(str)}

    def __init__(self, flip: bool = True, device: str = "cpu") -> None:
        if device != "cpu":
            raise DeviceUnavailableError(f"reid-0095 runs on the CPU only (device {device!r} requested)")
        ov = _openvino()
        xml, weights = model_file(self.name, 0), model_file(self.name, 1)
        try:
            model = ov.Core().read_model(str(xml), str(weights))
            model.reshape({model.inputs[0]: ov.PartialShape([-1, 3, _SIZE, _SIZE])})
            self._compiled = ov.Core().compile_model(
                model, "CPU", {"INFERENCE_NUM_THREADS": cpu_threads(), "INFERENCE_PRECISION_HINT": "f32"}
            )
        except Exception as exc:  # openvino raises untyped RuntimeErrors for bad files
            raise ModelError(f"{xml}: cannot load OpenVINO model ({exc})") from None
        self.device = device
        self.flip = flip

    @property
    def provider(self) -> str:
        return "openvino-CPU"

    def align(self, image: np.ndarray, detection: Detection) -> np.ndarray:
        if detection.landmarks is None:
            raise ValueError("reid-0095 needs 5 landmarks to align")
        arcface = align_arcface(image, detection.landmarks, 112)
        return cv2.resize(arcface[:, _OMZ_COLUMNS], (_SIZE, _SIZE), interpolation=cv2.INTER_LINEAR)

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(self._compiled(batch)[0]).reshape(len(batch), -1)

    def embed_aligned(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        if len(crops) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        # RGB crops -> BGR 0..255, NCHW, no normalisation.
        batch = np.ascontiguousarray(np.stack(crops).astype(np.float32)[..., ::-1].transpose(0, 3, 1, 2))
        features = self._forward(batch)
        if self.flip:
            features = features + self._forward(np.ascontiguousarray(batch[:, :, :, ::-1]))
        return l2_normalize(features)
