"""YuNet finds the faces, RetinaFace places their five landmarks.

EdgeFace-XS identifies better on crops aligned from RetinaFace-MobileNet0.25's
landmarks than from YuNet's (docs/recognition.md), but RetinaFace at its
reference threshold reports false faces on photos where YuNet reports none
(docs/detection.md). Here YuNet alone decides which faces exist — boxes,
scores, count and order are exactly YuNet's — and RetinaFace only re-places
the landmarks of each: it runs on a square window around the YuNet box
(``crop_scale`` times the box's longer side, resized to ``crop_size`` px, so
its cost does not grow with the image or the face), and its detection that
overlaps the YuNet box best (IoU >= ``match_iou``) gives the five points. A
face with no such detection keeps YuNet's landmarks.
"""
from __future__ import annotations

from typing import ClassVar

import cv2
import numpy as np

from facetrust.detection.retinaface import RetinaFaceDetector
from facetrust.detection.yunet import YuNetDetector
from facetrust.registry import Option
from facetrust.tracking import iou
from facetrust.types import Detection


class YuNetRetinaFaceDetector:
    """``score_threshold``, ``nms_threshold``, ``top_k`` and ``max_side`` are YuNet's (its
    defaults); ``landmark_threshold`` is RetinaFace's score threshold inside the window,
    low because YuNet has already decided that a face is there."""

    name = "yunet-retinaface"
    provides_landmarks = True
    #: RetinaFace's third point, like YuNet's, is the nose tip.
    nose_point = "tip"
    zoo_models = YuNetDetector.zoo_models + RetinaFaceDetector.zoo_models
    #: The boxes and scores are YuNet's, unchanged, so a model fitted on YuNet's scores (the learned
    #: quality model) reads them as it was fitted: :func:`facetrust.quality.learned.scores_of`.
    boxes_and_scores_of = "yunet"
    OPTIONS: ClassVar[dict[str, Option]] = {
        **YuNetDetector.OPTIONS,
        "landmark_threshold": Option(float, 0.0, 1.0),
        "crop_scale": Option(float, 1.0, 4.0),
        "crop_size": Option(int, 64, 1024),
        "match_iou": Option(float, 0.0, 1.0),
    }

    def __init__(
        self,
        score_threshold: float = 0.6,
        nms_threshold: float = 0.3,
        top_k: int = 750,
        max_side: int | None = 1280,
        landmark_threshold: float = 0.3,
        crop_scale: float = 2.0,
        crop_size: int = 192,
        match_iou: float = 0.5,
        device: str = "cpu",
        model: str = "yunet",
    ) -> None:
        self.finder = YuNetDetector(model, score_threshold, nms_threshold, top_k, max_side, device)
        # The window is never larger than crop_size, so RetinaFace's own downscaling never applies.
        self.placer = RetinaFaceDetector(score_threshold=landmark_threshold, max_side=None, device=device)
        self.score_threshold = score_threshold
        self.landmark_threshold = landmark_threshold
        self.crop_scale = crop_scale
        self.crop_size = crop_size
        self.match_iou = match_iou
        self.device = device

    @property
    def provider(self) -> str:
        return self.finder.provider

    def detect(self, image: np.ndarray) -> list[Detection]:
        return [self.place_landmarks(image, face) for face in self.finder.detect(image)]

    def place_landmarks(self, image: np.ndarray, face: Detection) -> Detection:
        """``face`` with RetinaFace's five points inside its window, or unchanged where
        RetinaFace finds nothing there overlapping the box enough."""
        x1, y1, x2, y2 = face.box
        side = self.crop_scale * max(x2 - x1, y2 - y1)
        span = round(side)
        if span < 2:
            return face
        left, top = round((x1 + x2 - side) / 2), round((y1 + y2 - side) / 2)
        crop = _window(image, left, top, span)
        scale = self.crop_size / span
        crop = cv2.resize(crop, (self.crop_size, self.crop_size),
                          interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        target = (scale * (x1 - left), scale * (y1 - top), scale * (x2 - left), scale * (y2 - top))
        best = max(self.placer.detect(crop), key=lambda d: iou(d.box, target), default=None)
        if best is None or best.landmarks is None or iou(best.box, target) < self.match_iou:
            return face
        points = best.landmarks.astype(np.float64) / scale + np.array([left, top])
        return Detection(face.box, face.score, points.astype(np.float32), face.fallback)


def _window(image: np.ndarray, left: int, top: int, side: int) -> np.ndarray:
    """The ``side`` x ``side`` window of ``image`` at (left, top), black outside the image."""
    height, width = image.shape[:2]
    x0, y0, x1, y1 = max(0, left), max(0, top), min(width, left + side), min(height, top + side)
    window = np.zeros((side, side) + image.shape[2:], dtype=image.dtype)
    if x1 > x0 and y1 > y0:
        window[y0 - top : y1 - top, x0 - left : x1 - left] = image[y0:y1, x0:x1]
    return window
