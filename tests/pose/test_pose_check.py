"""The ``pose`` face check through the analyzer, the CLI and the explainable quality assessor."""
from __future__ import annotations

import json

import pytest
from pose_images import FRONTAL
from typer.testing import CliRunner

from facetrust.analyzer import FaceAnalyzer
from facetrust.cli.main import app
from facetrust.errors import ConfigError
from facetrust.types import Face


def test_analyzer_puts_the_pose_in_extras_and_json(shared):
    analyzer = FaceAnalyzer(detector="yunet", checks=("pose",))
    (face,) = analyzer.analyze(shared / FRONTAL, embed=False)
    pose = json.loads(json.dumps(face.to_dict()))["pose"]
    assert pose["status"] == "ok" and pose["model"] == "pose-adas"
    assert set(pose) == {"status", "yaw", "pitch", "roll", "model"}


def test_five_point_estimator_uses_the_analyzer_detector_landmarks(shared):
    analyzer = FaceAnalyzer(detector="yunet", checks=("pose",), check_options={"pose": {"estimator": "pose-5pt"}})
    (face,) = analyzer.analyze(shared / FRONTAL, embed=False)
    assert face.extras["pose"]["model"] == "pose-5pt"
    assert analyzer.checks[0].estimator.nose_point == "tip"  # YuNet's, not the library default's


def test_face_too_small_is_unavailable_with_a_reason(shared):
    analyzer = FaceAnalyzer(detector="yunet", checks=("pose",))
    image = analyzer.load(shared / FRONTAL)
    (face,) = analyzer.analyze_rgb(image, embed=False, checks=False)
    tiny = Face((10.0, 10.0, 20.0, 22.0), 0.9, face.landmarks)
    analyzer.checks[0](image, [face, tiny])
    assert face.extras["pose"]["status"] == "ok"
    assert tiny.extras["pose"]["status"] == "unavailable" and "below" in tiny.extras["pose"]["reason"]
    assert tiny.extras["pose"]["reason_code"] == "face_too_small"
    empty = Face((60.0, 60.0, 40.0, 90.0), 0.9, face.landmarks)  # x2 < x1
    analyzer.checks[0](image, [empty])
    assert empty.extras["pose"]["status"] == "unavailable" and empty.extras["pose"]["reason_code"] == "no_estimate"
    track = analyzer.checks[0].aggregate([tiny.extras["pose"], empty.extras["pose"]])
    assert track["status"] == "unavailable" and track["reason_codes"] == ["face_too_small", "no_estimate"]


def test_unknown_estimator_is_a_config_error():
    analyzer = FaceAnalyzer(checks=("pose",), check_options={"pose": {"estimator": "pose-magic"}})
    with pytest.raises(ConfigError, match="unknown pose estimator 'pose-magic'"):
        analyzer.checks  # noqa: B018 - the checks are built on first use


def test_track_aggregate_is_the_median_of_real_frames(shared):
    analyzer = FaceAnalyzer(detector="yunet", checks=("pose",))
    image = analyzer.load(shared / FRONTAL)
    frames = [analyzer.analyze_rgb(frame, embed=False)[0].extras["pose"] for frame in (image, image[:, ::-1].copy())]
    track = analyzer.checks[0].aggregate(frames + [{"status": "unavailable", "reason": "x"}])
    assert track["frames"] == 3 and track["unavailable_frames"] == 1
    assert track["yaw"] == pytest.approx((frames[0]["yaw"] + frames[1]["yaw"]) / 2, abs=0.01)


def test_cli_analyze_with_pose(shared):
    runner = CliRunner()
    result = runner.invoke(app, ["analyze", "--detector", "yunet", "--check", "pose", "--json", str(shared / FRONTAL)])
    assert result.exit_code == 0, result.output
    (face,) = json.loads(result.stdout)[0]["faces"]
    assert face["pose"]["status"] == "ok"
    table = runner.invoke(app, ["analyze", "--detector", "yunet", "--check", "pose", str(shared / FRONTAL)])
    assert table.exit_code == 0 and "pose yaw" in table.output


def test_explainable_quality_rates_the_pose_check_estimate(shared):
    """With the pose check on, explainable quality's pose components are that estimate, not the 5-point one."""
    analyzer = FaceAnalyzer(detector="yunet", checks=("pose", "quality"),
                            check_options={"quality": {"method": "explainable"}})
    (face,) = analyzer.analyze(shared / FRONTAL, embed=False)
    components = face.extras["quality"]["components"]
    for angle in ("yaw", "pitch", "roll"):
        assert components[f"{angle}_deg"] == pytest.approx(face.extras["pose"][angle], abs=0.01)
    five_point = FaceAnalyzer(detector="yunet", checks=("quality",), check_options={"quality": {"method": "explainable"}})
    (plain,) = five_point.analyze(shared / FRONTAL, embed=False)
    assert plain.extras["quality"]["components"]["yaw_deg"] != components["yaw_deg"]


def test_explainable_quality_with_a_named_estimator(shared):
    from facetrust.pose import POSE_ESTIMATORS
    from facetrust.quality.explainable import ExplainableQuality

    analyzer = FaceAnalyzer(detector="yunet")
    image = analyzer.load(shared / FRONTAL)
    (face,) = analyzer.analyze_rgb(image, embed=False)
    components = ExplainableQuality(detector="yunet", pose="pose-106").assess(image, face).components
    pose = POSE_ESTIMATORS.create("pose-106").estimate(image, face)
    assert components["yaw_deg"] == pytest.approx(pose.yaw) and components["roll_deg"] == pytest.approx(pose.roll)
    # A face the estimator cannot judge has its pose components unmeasured (None), not the 5-point ones.
    tiny = Face((10.0, 10.0, 40.0, 24.0), 0.9, face.landmarks)
    assert ExplainableQuality(detector="yunet", pose="pose-adas").assess(image, tiny).components["yaw_deg"] is None
    with pytest.raises(ConfigError, match="unknown pose estimator"):
        ExplainableQuality(pose="pose-magic")
