"""SCRFD-0.5GF (InsightFace, with 5 keypoints) on onnxruntime.

NON-COMMERCIAL weights (InsightFace's pretrained-model terms): the zoo flags
them and loading warns. Pre- and post-processing follow insightface's
``model_zoo/scrfd.py``: the image is scaled (up or down, keeping its aspect)
so its longer side is ``input_size``, RGB (x - 127.5)/128; per stride 8/16/32
two anchors per cell predict distances to the box sides and keypoint offsets,
in units of the stride.
"""
from __future__ import annotations

from typing import ClassVar

import cv2
import numpy as np

from facetrust.detection.base import nms, rescale, sort_by_area
from facetrust.detection.onnx_detector import OnnxDetector
from facetrust.registry import Option
from facetrust.types import Detection

_STRIDES = (8, 16, 32)
_ANCHORS = 2
_DIVISOR = 32


class ScrfdDetector(OnnxDetector):
    """``input_size`` is the longer side the image is scaled to (640 as in insightface;
    smaller is faster and misses small faces)."""

    name = "scrfd"
    provides_landmarks = True
    #: insightface's 5 keypoints: the third is the nose tip.
    nose_point = "tip"
    zoo_models = ("scrfd-500m",)
    OPTIONS: ClassVar[dict[str, Option]] = {
        **{k: v for k, v in OnnxDetector.OPTIONS.items() if k != "max_side"}, "input_size": Option(int, 64, 4096)}

    def __init__(
        self,
        model: str = "scrfd-500m",
        score_threshold: float = 0.5,
        nms_threshold: float = 0.4,
        input_size: int = 640,
        device: str = "cpu",
    ) -> None:
        super().__init__(model, score_threshold, nms_threshold, None, device)
        self.input_size = input_size

    def detect(self, image: np.ndarray) -> list[Detection]:
        height, width = image.shape[:2]
        scale = self.input_size / max(height, width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        resized = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        pad_h, pad_w = (-(-v // _DIVISOR) * _DIVISOR for v in (size[1], size[0]))
        # Padding is black, as insightface pads its square canvas.
        blob = np.full((1, 3, pad_h, pad_w), -127.5 / 128.0, dtype=np.float32)
        blob[0, :, : size[1], : size[0]] = ((resized.astype(np.float32) - 127.5) / 128.0).transpose(2, 0, 1)
        outputs = self._session.run(None, {self._input: blob})
        boxes, scores, points = _decode(outputs, pad_h, pad_w, self.score_threshold)
        keep = nms(boxes, scores, self.nms_threshold)
        found = []
        for i in keep:
            x1, y1, x2, y2 = boxes[i]
            box = (max(0.0, float(x1)), max(0.0, float(y1)), min(float(size[0]), float(x2)), min(float(size[1]), float(y2)))
            if box[2] > box[0] and box[3] > box[1]:
                found.append(Detection(box, float(scores[i]), points[i]))
        return sort_by_area(rescale(found, size[0] / width if width >= height else size[1] / height))


def _decode(outputs: list[np.ndarray], pad_h: int, pad_w: int, threshold: float
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (N,4 corners), scores (N,) and keypoints (N,5,2) above ``threshold``."""
    n = len(_STRIDES)
    all_boxes, all_scores, all_points = [], [], []
    for i, stride in enumerate(_STRIDES):
        scores = outputs[i].reshape(-1)
        hit = np.nonzero(scores >= threshold)[0]
        if hit.size == 0:
            continue
        rows, cols = pad_h // stride, pad_w // stride
        # Anchor centres: row-major cells, each repeated for the two anchors.
        grid = np.stack(np.mgrid[:rows, :cols][::-1], axis=-1).reshape(-1, 2)
        centres = (np.repeat(grid, _ANCHORS, axis=0) * stride).astype(np.float32)[hit]
        distance = outputs[i + n].reshape(-1, 4)[hit] * stride
        offsets = outputs[i + 2 * n].reshape(-1, 5, 2)[hit] * stride
        all_boxes.append(np.concatenate([centres - distance[:, :2], centres + distance[:, 2:]], axis=1))
        all_scores.append(scores[hit])
        all_points.append(centres[:, None, :] + offsets)
    if not all_scores:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32)
    return (np.concatenate(all_boxes).astype(np.float32), np.concatenate(all_scores).astype(np.float32),
            np.concatenate(all_points).astype(np.float32))
