"""YuNet (libfacedetection) on onnxruntime: face boxes + 5 landmarks.

Pre- and post-processing follow OpenCV's ``cv2.FaceDetectorYN``
(modules/objdetect/src/face_detect.cpp, 4.8+ models with cls/obj/bbox/kps
outputs) so results match it, but the graph runs on onnxruntime, which is
faster on CPU and can use the GPU providers.
"""
from __future__ import annotations

from typing import ClassVar

import cv2
import numpy as np

from facetrust.detection.base import downscale_for_detection, nms, rescale, sort_by_area
from facetrust.detection.onnx_detector import OnnxDetector
from facetrust.registry import Option
from facetrust.types import Detection

_STRIDES = (8, 16, 32)
_DIVISOR = 32  # the coarsest stride: padded input sides must be multiples of it


class YuNetDetector(OnnxDetector):
    """``model`` is a zoo name: ``yunet`` (n, dynamic input, default) or
    ``yunet-s``; the fixed 640x640 exports (``yunet-640``) also work: the image
    is shrunk to fit and zero-padded. ``top_k`` caps the candidates entering
    NMS, as in OpenCV. Images larger than ``max_side`` are shrunk first."""

    name = "yunet"
    provides_landmarks = True
    #: YuNet's nose landmark is the tip (median drop below the eye line 0.58 eye distances on LFW).
    nose_point = "tip"
    zoo_models = ("yunet",)
    OPTIONS: ClassVar[dict[str, Option]] = {**OnnxDetector.OPTIONS, "top_k": Option(int, 1, 100_000)}

    def __init__(
        self,
        model: str = "yunet",
        score_threshold: float = 0.6,
        nms_threshold: float = 0.3,
        top_k: int = 750,
        max_side: int | None = 1280,
        device: str = "cpu",
    ) -> None:
        super().__init__(model, score_threshold, nms_threshold, max_side, device)
        height, width = self._input_shape[2], self._input_shape[3]
        # Dynamic exports name their spatial dims ("height"); fixed ones give ints.
        self._fixed = (height, width) if isinstance(height, int) and isinstance(width, int) else None
        self._outputs = [f"{kind}_{s}" for kind in ("cls", "obj", "bbox", "kps") for s in _STRIDES]
        self.top_k = top_k

    def detect(self, image: np.ndarray) -> list[Detection]:
        small, scale = downscale_for_detection(image, self.max_side)
        if self._fixed is not None:
            small, fit = _fit_within(small, *self._fixed)
            scale *= fit
        blob = self._blob(small)
        outputs = self._session.run(self._outputs, {self._input: blob})
        boxes, scores, points = _decode(outputs, blob.shape[2], blob.shape[3], self.score_threshold)
        # OpenCV's NMSBoxes keeps the top_k best candidates *before* suppressing.
        order = np.argsort(-scores, kind="stable")[: self.top_k]
        keep = order[nms(boxes[order], scores[order], self.nms_threshold)]
        height, width = small.shape[:2]
        found = []
        for i in keep:
            x1, y1, x2, y2 = boxes[i]
            box = (max(0.0, float(x1)), max(0.0, float(y1)), min(float(width), float(x2)), min(float(height), float(y2)))
            if box[2] > box[0] and box[3] > box[1]:
                # YuNet's points are (right eye, left eye, nose, right/left mouth
                # corner) of the *subject*, i.e. image-left first: already
                # LANDMARK_ORDER (checked on the astronaut and multi-face photos).
                found.append(Detection(box, float(scores[i]), points[i]))
        return sort_by_area(rescale(found, scale))

    def _blob(self, image: np.ndarray) -> np.ndarray:
        """RGB uint8 HxWx3 -> 1x3xHpxWp float32 BGR 0..255, zero-padded bottom/right."""
        height, width = image.shape[:2]
        if self._fixed is not None:
            pad_h, pad_w = self._fixed
        else:
            pad_h = -(-height // _DIVISOR) * _DIVISOR
            pad_w = -(-width // _DIVISOR) * _DIVISOR
        blob = np.zeros((1, 3, pad_h, pad_w), dtype=np.float32)
        blob[0, :, :height, :width] = image[:, :, ::-1].transpose(2, 0, 1)
        return blob


def _fit_within(image: np.ndarray, max_h: int, max_w: int) -> tuple[np.ndarray, float]:
    """Shrink (never enlarge) so the image fits a fixed-size model's input."""
    height, width = image.shape[:2]
    scale = min(1.0, max_h / height, max_w / width)
    if scale == 1.0:
        return image, 1.0
    size = (min(max_w, round(width * scale)), min(max_h, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale


def _decode(
    outputs: list[np.ndarray], pad_h: int, pad_w: int, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (N,4 corners), scores (N,) and landmarks (N,5,2) above ``threshold``,
    decoded like FaceDetectorYN::postProcess (anchor-free, one prior per cell)."""
    n = len(_STRIDES)
    all_boxes, all_scores, all_points = [], [], []
    for i, stride in enumerate(_STRIDES):
        cls, obj, bbox, kps = (outputs[i + n * k].reshape(-1, d) for k, d in enumerate((1, 1, 4, 10)))
        score = np.sqrt(np.clip(cls[:, 0], 0, 1) * np.clip(obj[:, 0], 0, 1))
        hit = np.nonzero(score >= threshold)[0]
        if hit.size == 0:
            continue
        cols = pad_w // stride
        # Cell (row, col) of each hit: the flat index is r * cols + c.
        cell = np.stack([hit % cols, hit // cols], axis=1).astype(np.float32)
        centre = (cell + bbox[hit, :2]) * stride
        size = np.exp(bbox[hit, 2:]) * stride
        all_boxes.append(np.concatenate([centre - size / 2, centre + size / 2], axis=1))
        all_scores.append(score[hit])
        all_points.append((kps[hit].reshape(-1, 5, 2) + cell[:, None, :]) * stride)
    if not all_scores:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32)
    return (
        np.concatenate(all_boxes).astype(np.float32),
        np.concatenate(all_scores).astype(np.float32),
        np.concatenate(all_points).astype(np.float32),
    )
