"""Per-face checks run by the analyzer (quality, liveness, forgery): API, CLI, video tracks."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from facetrust.analyzer import FaceAnalyzer
from facetrust.cli.main import app
from facetrust.errors import ConfigError

ALL_CHECKS = ("quality", "liveness", "forgery")


@pytest.fixture(scope="module")
def checked(shared) -> FaceAnalyzer:
    return FaceAnalyzer(detector="yunet", checks=ALL_CHECKS)


def spoof_labels(shared) -> list[dict[str, str]]:
    with open(shared / "data" / "spoof" / "labels.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_every_face_gets_every_check_and_liveness_matches_the_labels(shared, checked):
    for row in spoof_labels(shared):
        faces = checked.analyze(shared / "data" / "spoof" / row["file"])
        assert len(faces) == 1
        result = faces[0].to_dict(include_embedding=False)
        assert result["liveness"]["status"] == row["label"], row["file"]
        assert result["liveness"]["model"] == "minifasnet"
        # The shipped learned model reads dlib-hog's detector scores: with YuNet, explainable.
        assert 0 <= result["quality"]["score"] <= 100 and result["quality"]["method"] == "explainable"
        assert result["forgery"]["model"] == "sbi" and 0 <= result["forgery"]["score"] <= 1
        json.dumps(result)  # JSON-ready


def test_load_models_loads_every_check_model_up_front(shared):
    # stability quality is calibrated for dlib-resnet only
    analyzer = FaceAnalyzer(detector="yunet", recognizer="dlib-resnet", checks=ALL_CHECKS,
                            check_options={"quality": {"method": "stability"}})
    analyzer.load_models()
    stability, liveness, forgery = analyzer.checks
    assert liveness.checker._model is not None and forgery.checker._detector is not None
    assert stability.assessor._recognizer is not None
    missing = FaceAnalyzer(detector="yunet", checks=("liveness",), check_options={"liveness": {"model": "nope"}})
    with pytest.raises(ConfigError):
        missing.load_models()  # a bad model fails at start-up, not on the first request


def test_checks_are_off_unless_asked_and_skippable(shared, checked):
    image = checked.load(shared / "data" / "spoof" / "silent_face" / "image_T1.jpg")
    assert not FaceAnalyzer(detector="yunet").analyze(image, embed=False)[0].extras
    assert not checked.analyze_rgb(image, embed=False, checks=False)[0].extras


def test_verify_checks_only_the_compared_faces(shared):
    two_people = shared / "data" / "faces" / "ageitgey_face_recognition" / "examples" / "two_people.jpg"
    analyzer = FaceAnalyzer(checks=("quality",))
    result = analyzer.verify(two_people, two_people)
    assert "quality" in result.face_a.extras and "quality" in result.face_b.extras
    assert result.faces_in_a == 2


def test_grayscale_input_gives_unavailable_liveness_not_a_score(shared, checked):
    image = checked.load(shared / "data" / "spoof" / "silent_face" / "image_T1.jpg")
    gray = np.repeat(image.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
    liveness = checked.analyze(gray, embed=False)[0].extras["liveness"]
    assert liveness["status"] == "unavailable" and liveness["score"] is None and "colour" in liveness["reason"]
    assert liveness["reason_code"] == "grayscale"


def test_bad_check_configuration_fails_before_loading():
    with pytest.raises(ConfigError, match="unknown face check 'nope'"):
        FaceAnalyzer(checks=("nope",))
    with pytest.raises(ConfigError, match="not enabled"):
        FaceAnalyzer(checks=("quality",), check_options={"liveness": {"model": "minifasnet"}})
    with pytest.raises(ConfigError, match="cannot be imported"):
        FaceAnalyzer(checks=("no.such.module:Check",))
    with pytest.raises(ConfigError, match="bad options for face check 'forgery'"):
        FaceAnalyzer(checks=("forgery",), check_options={"forgery": {"colour": "red"}}).checks


def test_learned_quality_falls_back_to_explainable_without_a_shipped_model(shared, astronaut):
    faces = FaceAnalyzer(detector="yunet", recognizer="mobilefacenet", checks=("quality",)).analyze(astronaut)
    assert faces[0].extras["quality"]["method"] == "explainable"


def test_video_tracks_aggregate_each_check(shared):
    clip = shared / "data" / "deepfake" / "aaronchong888" / "videos" / "abofeumbvv.mp4"
    from facetrust.video import analyze_video

    analyzer = FaceAnalyzer(detector="yunet", checks=("liveness", "forgery"))
    record = analyze_video(analyzer, clip, every_seconds=1.0, embed=False, max_frames=6)
    assert len(record["frames"]) == 6 and record["subject_track"] == 0
    track = record["tracks"][0]
    frames = [face for frame in record["frames"] for face in frame["faces"] if face["track"] == 0]
    assert track["frames"] == len(frames) >= 5
    for name in ("liveness", "forgery"):
        scores = [f[name]["score"] for f in frames if f[name]["score"] is not None]
        assert track[name]["score"] == pytest.approx(np.mean(scores), abs=1e-6)
        assert track[name]["min_score"] == pytest.approx(min(scores), abs=1e-6)
    expected = "fake" if track["forgery"]["score"] >= track["forgery"]["threshold"] else "real"
    assert track["forgery"]["status"] == expected


def test_cli_analyze_with_checks(shared):
    spoof = shared / "data" / "spoof" / "silent_face"
    runner = CliRunner()
    result = runner.invoke(app, ["analyze", str(spoof / "image_F2.jpg"), str(spoof / "image_T1.jpg"), "-d", "yunet",
                                 "--check", "liveness", "--check", "forgery", "--check-opt", "forgery.model=fusion",
                                 "--json", "--workers", "1"])
    assert result.exit_code == 0, result.output
    records = {r["path"].rsplit("/", 1)[-1]: r for r in json.loads(result.stdout)}
    assert records["image_F2.jpg"]["faces"][0]["liveness"]["status"] == "spoof"
    assert records["image_T1.jpg"]["faces"][0]["liveness"]["status"] == "live"
    assert records["image_T1.jpg"]["faces"][0]["forgery"]["model"].startswith("fusion")
    # A wide terminal, so that the verdict is not wrapped inside its table cell.
    table = runner.invoke(app, ["analyze", str(spoof / "image_T1.jpg"), "-d", "yunet", "--check", "liveness"],
                          env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "liveness live" in table.output
    bad = runner.invoke(app, ["analyze", str(spoof / "image_T1.jpg"), "--check-opt", "liveness.model=x"])
    assert bad.exit_code == 1 and "not enabled" in bad.output


def test_check_detector_gives_liveness_and_forgery_yunet_faces_and_keeps_retinaface_boxes(shared, checked):
    """An analyzer that aligns with RetinaFace but gives liveness and forgery (measured on YuNet's
    faces) YuNet's faces of the same people (``check_detector``, the fallback of the rule in
    docs/detection.md): their scores equal a YuNet analyzer's, the boxes are RetinaFace's."""
    from facetrust.defaults import DEFAULT_CHECK_DETECTOR

    both = FaceAnalyzer(detector="retinaface", check_detector=DEFAULT_CHECK_DETECTOR, checks=ALL_CHECKS)
    own_boxes = FaceAnalyzer(detector="retinaface", checks=("forgery",))
    photo = shared / "data" / "faces" / "ageitgey_face_recognition" / "examples" / "knn_examples" / "test" / \
        "obama_and_biden.jpg"
    faces, yunet_faces = both.analyze(photo), checked.analyze(photo)
    assert len(faces) == len(yunet_faces) == 3
    assert [f.box for f in faces] == [f.box for f in own_boxes.analyze(photo, embed=False)]
    for face, yunet_face in zip(faces, yunet_faces):
        for name in ("liveness", "forgery"):
            assert face.extras[name]["score"] == yunet_face.extras[name]["score"]
    # quality reads the analyzer's own faces (RetinaFace's landmarks)
    assert [f.extras["quality"]["components"] for f in faces] != [f.extras["quality"]["components"] for f in yunet_faces]
    # The default preset sets it (its detector keeps YuNet's boxes but not its landmarks): its checks
    # give exactly a YuNet analyzer's scores, on the very same boxes; `fast` (on YuNet) needs none.
    default = FaceAnalyzer(checks=ALL_CHECKS)
    assert default.config.check_detector == DEFAULT_CHECK_DETECTOR == "yunet"
    assert FaceAnalyzer(preset="fast").config.check_detector is None
    default_faces = default.analyze(photo)
    assert [f.box for f in default_faces] == [f.box for f in yunet_faces]
    for face, yunet_face in zip(default_faces, yunet_faces):
        for name in ("liveness", "forgery"):
            assert face.extras[name]["score"] == yunet_face.extras[name]["score"]
