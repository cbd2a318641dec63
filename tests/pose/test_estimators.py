"""Head pose on real faces where the truth is known without labels: in-plane rotation (roll) and mirroring (yaw)."""
from __future__ import annotations

import numpy as np
import pytest
from pose_images import FRONTAL, TURNED, padded, rotated

from facetrust.errors import ConfigError, PoseError
from facetrust.pose import POSE_ESTIMATORS
from facetrust.types import Detection

#: |measured roll change - applied rotation| (degrees) within which each estimator recovers a rotation of
#: +-10..30 degrees: its 99th percentile over 300 UTKFace and LFW-a faces x 6 angles, rounded up to 0.5
#: (bench/pose_eval.py, docs/pose.md). pose-adas and pose-5pt under-read large rotations (+30 reads as
#: +22), hence their wider bounds.
ROLL_TOLERANCE = {"pose-106": 7.5, "pose-5pt": 20.0, "pose-adas": 17.5}
ESTIMATORS = tuple(ROLL_TOLERANCE)


@pytest.fixture(scope="module")
def estimators():
    return {name: POSE_ESTIMATORS.create(name, **({"detector": "yunet"} if name == "pose-5pt" else {}))
            for name in ESTIMATORS}


@pytest.mark.parametrize("name", ESTIMATORS)
@pytest.mark.parametrize("degrees", [-25, 15])
def test_roll_of_a_rotated_real_face_is_recovered(name, degrees, shared, yunet, estimators):
    image = padded(yunet.load(shared / FRONTAL))
    face = yunet.detect_rgb(image)[0]
    centre = ((face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2)
    turned = rotated(image, centre, degrees)
    estimator = estimators[name]
    change = estimator.estimate(turned, yunet.detect_rgb(turned)[0]).roll - estimator.estimate(image, face).roll
    assert np.sign(change) == np.sign(degrees) and abs(change - degrees) <= ROLL_TOLERANCE[name]


@pytest.mark.parametrize("name", ESTIMATORS)
def test_mirroring_a_turned_face_negates_its_yaw(name, shared, yunet, estimators):
    image = yunet.load(shared / TURNED)
    mirrored = np.ascontiguousarray(image[:, ::-1])
    yaw = estimators[name].estimate(image, yunet.detect_rgb(image)[0]).yaw
    yaw_mirrored = estimators[name].estimate(mirrored, yunet.detect_rgb(mirrored)[0]).yaw
    assert yaw > 10 and yaw_mirrored < -10  # the nose points to the image right, then to the left


def test_frontal_face_reads_near_zero_and_results_are_json_ready(shared, yunet, estimators):
    image = yunet.load(shared / FRONTAL)
    face = yunet.detect_rgb(image)[0]
    for name, estimator in estimators.items():
        result = estimator.estimate(image, face).to_dict()
        assert result["status"] == "ok" and result["model"] == name
        assert all(isinstance(result[a], float) for a in ("yaw", "pitch", "roll"))


def test_five_point_pose_needs_landmarks(shared, yunet, estimators):
    image = yunet.load(shared / FRONTAL)
    face = yunet.detect_rgb(image)[0]
    with pytest.raises(PoseError, match="5 landmarks"):
        estimators["pose-5pt"].estimate(image, Detection(face.box, face.score, None))


@pytest.mark.parametrize("name", ["pose-adas", "pose-106"])
def test_tiny_face_is_a_pose_error(name, shared, yunet, estimators):
    image = yunet.load(shared / FRONTAL)
    with pytest.raises(PoseError, match="below"):
        estimators[name].estimate(image, Detection((100.0, 100.0, 112.0, 114.0), 0.9, None))


def test_unknown_estimator_and_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="unknown pose estimator"):
        POSE_ESTIMATORS.create("pose-magic")
    with pytest.raises(ConfigError, match="crop_scale"):
        POSE_ESTIMATORS.create("pose-adas", crop_scale=10.0)
