"""RetinaFace-MobileNet0.25 (biubug6/Pytorch_Retinaface, MIT) on onnxruntime: box + 5 landmarks.

The ONNX graph is exported from the author's state_dict by
``facetrust/detection/export/retinaface_onnx.py`` and ships inside the package
(zoo ``retinaface-mnet025-onnx``). Pre- and post-processing follow the
reference ``detect.py``: BGR minus (104, 117, 123) at the image's own
resolution, prior boxes of sizes 16/32, 64/128, 256/512 at strides 8/16/32,
variances (0.1, 0.2).
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from facetrust.detection.base import downscale_for_detection, nms, rescale, sort_by_area
from facetrust.detection.onnx_detector import OnnxDetector
from facetrust.registry import Option
from facetrust.types import Detection

_STEPS = (8, 16, 32)
_MIN_SIZES = ((16, 32), (64, 128), (256, 512))
_VARIANCE = (0.1, 0.2)
_MEAN_BGR = np.array([104.0, 117.0, 123.0], dtype=np.float32)
_DIVISOR = 32


class RetinaFaceDetector(OnnxDetector):
    """Images larger than ``max_side`` are shrunk first (cost grows with pixels)."""

    name = "retinaface"
    provides_landmarks = True
    #: RetinaFace's 5 landmarks: the third is the nose tip.
    nose_point = "tip"
    zoo_models = ("retinaface-mnet025-onnx",)
    OPTIONS: ClassVar[dict[str, Option]] = OnnxDetector.OPTIONS

    def __init__(
        self,
        model: str = "retinaface-mnet025-onnx",
        score_threshold: float = 0.6,
        nms_threshold: float = 0.4,
        max_side: int | None = 1280,
        device: str = "cpu",
    ) -> None:
        super().__init__(model, score_threshold, nms_threshold, max_side, device)

    def detect(self, image: np.ndarray) -> list[Detection]:
        small, scale = downscale_for_detection(image, self.max_side)
        height, width = small.shape[:2]
        pad_h, pad_w = (-(-v // _DIVISOR) * _DIVISOR for v in (height, width))
        blob = np.zeros((1, 3, pad_h, pad_w), dtype=np.float32)
        blob[0, :, :height, :width] = (small[:, :, ::-1].astype(np.float32) - _MEAN_BGR).transpose(2, 0, 1)
        loc, conf, landms = (o[0] for o in self._session.run(None, {self._input: blob}))
        scores = conf[:, 1]
        hit = np.nonzero(scores >= self.score_threshold)[0]
        priors = _priors(pad_h, pad_w)[hit]
        boxes, points, scores = _decode_boxes(loc[hit], priors), _decode_points(landms[hit], priors), scores[hit]
        found = []
        for i in nms(boxes, scores, self.nms_threshold):
            x1, y1, x2, y2 = boxes[i]
            box = (max(0.0, float(x1)), max(0.0, float(y1)), min(float(width), float(x2)), min(float(height), float(y2)))
            if box[2] > box[0] and box[3] > box[1]:
                found.append(Detection(box, float(scores[i]), points[i]))
        return sort_by_area(rescale(found, scale))


def _priors(height: int, width: int) -> np.ndarray:
    """(A, 4) prior boxes (cx, cy, w, h) in pixels, in the network's output order:
    per stride, row-major cells, the two sizes of each cell in turn."""
    priors = []
    for step, sizes in zip(_STEPS, _MIN_SIZES):
        rows, cols = -(-height // step), -(-width // step)
        cy, cx = np.mgrid[:rows, :cols]
        centres = np.stack([(cx + 0.5) * step, (cy + 0.5) * step], axis=-1).reshape(-1, 1, 2)
        wh = np.array([[s, s] for s in sizes], dtype=np.float64)[None]
        priors.append(np.concatenate(np.broadcast_arrays(centres, wh), axis=-1).reshape(-1, 4))
    return np.concatenate(priors).astype(np.float32)


def _decode_boxes(loc: np.ndarray, priors: np.ndarray) -> np.ndarray:
    centre = priors[:, :2] + loc[:, :2] * _VARIANCE[0] * priors[:, 2:]
    size = priors[:, 2:] * np.exp(loc[:, 2:] * _VARIANCE[1])
    return np.concatenate([centre - size / 2, centre + size / 2], axis=1).astype(np.float32)


def _decode_points(landms: np.ndarray, priors: np.ndarray) -> np.ndarray:
    offsets = landms.reshape(-1, 5, 2) * _VARIANCE[0] * priors[:, None, 2:]
    return (priors[:, None, :2] + offsets).astype(np.float32)
