"""UltraFace (Ultra-Light-Fast-Generic-Face-Detector-1MB) on onnxruntime: boxes only.

The exported graph already applies the softmax and the prior-box decoding:
``scores[1,N,2]`` (column 1 = face) and ``boxes[1,N,4]`` as corners
(x1, y1, x2, y2) normalised to 0..1 of the input, so only thresholding, NMS
and scaling to pixels are left (checked against skimage's astronaut).
"""
from __future__ import annotations

from typing import ClassVar

import cv2
import numpy as np

from facetrust.detection.base import downscale_for_detection, nms, rescale, sort_by_area
from facetrust.detection.landmarks import SHAPE5_NOSE_POINT
from facetrust.detection.onnx_detector import OnnxDetector
from facetrust.registry import Option
from facetrust.types import Detection


class UltraFaceDetector(OnnxDetector):
    """``model`` is a zoo name: ``ultraface`` (RFB-320, 320x240 input, default)
    or ``ultraface-640`` (RFB-640, 640x480: finds smaller faces, ~4x the cost).
    The whole image is resized to the model's fixed input, so faces narrower
    than roughly 1/30 of the image width are missed by RFB-320."""

    name = "ultraface"
    provides_landmarks = False
    nose_point = SHAPE5_NOSE_POINT
    zoo_models = ("ultraface",)
    #: The image is resized to the fixed input anyway, so no shrinking first (None) costs little.
    OPTIONS: ClassVar[dict[str, Option]] = {**OnnxDetector.OPTIONS, "max_side": Option(int, 64, 8192, optional=True)}

    def __init__(
        self,
        model: str = "ultraface",
        score_threshold: float = 0.7,
        nms_threshold: float = 0.3,
        max_side: int | None = None,
        device: str = "cpu",
    ) -> None:
        super().__init__(model, score_threshold, nms_threshold, max_side, device)
        self._size = (int(self._input_shape[3]), int(self._input_shape[2]))  # (width, height) for cv2.resize

    def detect(self, image: np.ndarray) -> list[Detection]:
        small, scale = downscale_for_detection(image, self.max_side)
        height, width = small.shape[:2]
        # Area averaging when shrinking avoids aliasing that hides small faces.
        shrink = width > self._size[0] or height > self._size[1]
        resized = cv2.resize(small, self._size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        blob = ((resized.astype(np.float32) - 127.0) / 128.0).transpose(2, 0, 1)[None]
        scores, boxes = self._session.run(None, {self._input: np.ascontiguousarray(blob)})
        scores, boxes = scores[0, :, 1], boxes[0]
        hit = scores >= self.score_threshold
        scores = scores[hit]
        boxes = boxes[hit] * np.array([width, height, width, height], dtype=np.float32)
        keep = nms(boxes, scores, self.nms_threshold)
        # Clip after NMS, as the reference does: boxes may overhang the border.
        boxes = np.clip(boxes[keep], 0, [width, height, width, height])
        found = [
            Detection((float(x1), float(y1), float(x2), float(y2)), float(score))
            for (x1, y1, x2, y2), score in zip(boxes, scores[keep])
            if x2 > x1 and y2 > y1
        ]
        return sort_by_area(rescale(found, scale))
