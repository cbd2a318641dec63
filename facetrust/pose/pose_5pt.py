"""Head pose from the detector's 5 landmarks: the orthographic generic-head estimate of
:func:`facetrust.quality.components.geometry` (no model; what quality has always used)."""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from facetrust.defaults import DEFAULT_DETECTOR
from facetrust.detection.landmarks import nose_point_of
from facetrust.errors import FaceQualityError, PoseError
from facetrust.pose.base import HeadPose, check_image
from facetrust.registry import Option
from facetrust.types import Detection, Face


class Pose5pt:
    name = "pose-5pt"
    zoo_models: ClassVar[tuple[str, ...]] = ()
    OPTIONS: ClassVar[dict[str, Option]] = {"detector": Option(str)}

    def __init__(self, detector: str = DEFAULT_DETECTOR) -> None:
        """``detector``: the one that gave the landmarks (its declared nose point sets the head geometry)."""
        self.nose_point = nose_point_of(detector)

    def estimate(self, image: np.ndarray, face: Face | Detection) -> HeadPose:
        from facetrust.quality.components import check_face, geometry

        check_image(image)
        try:
            points = check_face(image, face.box, face.landmarks)
        except FaceQualityError as exc:
            raise PoseError(str(exc).replace("quality needs", "pose-5pt needs")) from None
        angles = geometry(image.shape, face.box, points, self.nose_point)
        return HeadPose(angles["yaw_deg"], angles["pitch_deg"], angles["roll_deg"], self.name)
