"""5-point landmarks from dlib's shape predictor for box-only detectors.

dlib's 5-point model gives two corners per eye and the base of the nose, not
the mouth. We map them to :data:`~facetrust.types.LANDMARK_ORDER` as: eye
centre = mean of its two corners, nose = nose base, and the two mouth corners
*estimated* by placing the ArcFace template's mouth through the similarity
transform that maps the template's eyes onto the measured eyes.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from facetrust.alignment.similarity import ARCFACE_TEMPLATE_112, estimate_similarity
from facetrust.errors import ConfigError
from facetrust.types import Detection
from facetrust.zoo import model_file

#: The nose points a detector's 5 landmarks can hold (head-pose geometry differs).
NOSE_POINT_KINDS: tuple[str, ...] = ("tip", "base")
#: dlib's 5-point shape predictor marks the base of the nose.
SHAPE5_NOSE_POINT = "base"


@lru_cache(maxsize=None)
def nose_point_of(detector: str) -> str:
    """The nose point (one of :data:`NOSE_POINT_KINDS`) in the landmarks of a registered
    detector's faces, as its class declares; ConfigError when it declares none."""
    from facetrust.detection import DETECTORS

    point = getattr(DETECTORS.get_class(detector), "nose_point", None)
    if point not in NOSE_POINT_KINDS:
        raise ConfigError(f"detector {detector!r} does not declare which nose point its landmarks hold "
                          f"(class attribute nose_point, one of {', '.join(NOSE_POINT_KINDS)}; got {point!r}), "
                          "so head pose cannot be measured")
    return str(point)


@lru_cache(maxsize=1)
def shape_predictor_5() -> Any:
    import dlib

    return dlib.shape_predictor(str(model_file("dlib-shape5")))


def dlib_rect(box: tuple[float, float, float, float]) -> Any:
    import dlib

    x1, y1, x2, y2 = box
    return dlib.rectangle(int(round(x1)), int(round(y1)), int(round(x2)) - 1, int(round(y2)) - 1)


def dlib_shape5(image: np.ndarray, box: tuple[float, float, float, float]) -> Any:
    """dlib ``full_object_detection`` with the 5 raw points for ``box``."""
    return shape_predictor_5()(image, dlib_rect(box))


def five_points_from_dlib(shape: Any) -> np.ndarray:
    raw = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
    # raw: 0,1 = image-right eye (outer, inner); 2,3 = image-left eye (outer, inner); 4 = nose base.
    left_eye = raw[2:4].mean(axis=0)
    right_eye = raw[0:2].mean(axis=0)
    eyes_to_image = estimate_similarity(ARCFACE_TEMPLATE_112[:2], np.stack([left_eye, right_eye]))
    mouth = ARCFACE_TEMPLATE_112[3:] @ eyes_to_image[:, :2].T + eyes_to_image[:, 2]
    return np.vstack([left_eye, right_eye, raw[4], mouth]).astype(np.float32)


def add_landmarks(image: np.ndarray, detection: Detection) -> Detection:
    return detection.with_landmarks(five_points_from_dlib(dlib_shape5(image, detection.box)))
