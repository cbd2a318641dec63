"""Head pose (yaw, pitch, roll) and dense landmarks, per face (docs/pose.md).

Each estimator is one file + one register line in :data:`POSE_ESTIMATORS`; the landmark
models that some of them read are in :data:`LANDMARK_MODELS`. Use them as the ``pose``
face check (``FaceAnalyzer(checks=("pose",))``, ``facetrust analyze --check pose``) or
directly: ``POSE_ESTIMATORS.create("pose-adas").estimate(image, face)``.
"""
from __future__ import annotations

from facetrust.pose.base import HeadPose, LandmarkModel, PoseEstimator
from facetrust.registry import Registry

POSE_ESTIMATORS: Registry[PoseEstimator] = Registry("pose estimator")
POSE_ESTIMATORS.register("pose-adas", "facetrust.pose.pose_adas:PoseAdas",
                         "CNN yaw/pitch/roll, OpenVINO OMZ head-pose-estimation-adas-0001, Apache-2.0, model zoo")
POSE_ESTIMATORS.register("pose-106", "facetrust.pose.pose_106:Pose106",
                         "solvePnP of InsightFace 106 landmarks on a generic 3-D head: non-commercial, model zoo")
POSE_ESTIMATORS.register("pose-5pt", "facetrust.pose.pose_5pt:Pose5pt",
                         "generic-head geometry of the detector's 5 landmarks; no model")

LANDMARK_MODELS: Registry[LandmarkModel] = Registry("landmark model")
LANDMARK_MODELS.register("landmarks106", "facetrust.pose.landmarks106:InsightFace106",
                         "106 landmarks from the face box, InsightFace 2d106det: non-commercial, model zoo")

#: The ``pose`` check's estimator: the most accurate licence-clean one (docs/pose.md).
DEFAULT_POSE_ESTIMATOR = "pose-adas"

__all__ = ["DEFAULT_POSE_ESTIMATOR", "HeadPose", "LANDMARK_MODELS", "LandmarkModel", "POSE_ESTIMATORS",
           "PoseEstimator"]
