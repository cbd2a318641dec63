"""InsightFace ``2d106det``: 106 landmarks from a face box (buffalo_l; **non-commercial research only**).

Crop as InsightFace's ``Landmark`` model does: centred on the box, side 1.5 x the box's longer
side, scaled to 192x192 (RGB 0..255: the graph normalises); the 212 outputs are 106 (x, y) in
[-1, 1] of the crop, (v + 1) x 96 in crop pixels, mapped back to the image.

Indices (matched to YuNet's 5 points and dlib's 68 on UTKFace, docs/pose.md): chin 0 (contour
0-32), image-left eye 33-42 (centre 38, outer corner 35), image-right eye 87-96 (centre 88, outer
corner 93), nose tip 86, mouth corners 52 (image left) and 61 (image right).
"""
from __future__ import annotations

from typing import ClassVar

import cv2
import numpy as np

from facetrust.errors import ModelError
from facetrust.pose.base import check_box, check_image
from facetrust.registry import Option

CROP = 192
SCALE = 1.5
#: Indices of the points that correspond to the detector's 5 (eye centres, nose tip, mouth corners).
FIVE_POINTS = (38, 88, 86, 52, 61)
#: A box narrower than this (pixels) gives no landmarks: at 12 px the eye centres' 95th-percentile
#: distance from the detector's eyes (0.32 eye distances) exceeds the full-size 99th percentile (0.25);
#: at 16 px it does not (0.21) (bench/pose_eval.py, docs/pose.md).
MIN_FACE_PX = 16


class InsightFace106:
    name = "landmarks106"
    zoo_models: ClassVar[tuple[str, ...]] = ("insightface-2d106det",)
    points: ClassVar[int] = 106
    OPTIONS: ClassVar[dict[str, Option]] = {"device": Option(str)}

    def __init__(self, device: str = "cpu") -> None:
        from facetrust.runtime import onnx_session
        from facetrust.zoo import model_file

        self._session = onnx_session(model_file(self.zoo_models[0]), device)
        inputs = self._session.get_inputs()
        if len(inputs) != 1 or list(inputs[0].shape[1:]) != [3, CROP, CROP]:
            raise ModelError(f"2d106det: unexpected input {[(i.name, i.shape) for i in inputs]}")
        self._input = inputs[0].name

    def locate(self, image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        check_image(image)
        check_box(box, MIN_FACE_PX, self.name)
        x1, y1, x2, y2 = (float(v) for v in box)
        scale = CROP / (SCALE * max(x2 - x1, y2 - y1))
        centre = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
        matrix = np.array([[scale, 0.0, CROP / 2 - scale * centre[0]], [0.0, scale, CROP / 2 - scale * centre[1]]])
        crop = cv2.warpAffine(image, matrix, (CROP, CROP), flags=cv2.INTER_LINEAR, borderValue=0)
        blob = np.ascontiguousarray(crop.transpose(2, 0, 1)[None], dtype=np.float32)
        out = self._session.run(None, {self._input: blob})[0].reshape(-1, 2).astype(np.float64)
        return ((out + 1.0) * (CROP / 2) - matrix[:, 2]) / scale
