"""``facetrust forgery`` and ``facetrust eval forgery`` end to end, including bad input."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from facetrust.cli.main import app

runner = CliRunner()


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def test_forgery_image_json_and_heatmap(faces_dir: Path, tmp_path: Path) -> None:
    result = invoke("forgery", faces_dir / "examples" / "two_people.jpg", "--json", "--heatmap", tmp_path)
    assert result.exit_code == 0, result.output
    [record] = json.loads(result.stdout)
    assert len(record["faces"]) == 2
    assert all(f["forgery"]["status"] in ("real", "fake") for f in record["faces"])
    for face in record["faces"]:  # the default model's per-model scores are in the JSON
        scores = face["forgery"]["model_scores"]
        assert scores and all(0.0 <= v <= 1.0 for v in scores.values())
        assert face["forgery"]["score"] == pytest.approx(np.mean(list(scores.values())), abs=1e-5)
    assert (tmp_path / "two_people_forgery.png").is_file()


def test_forgery_bad_inputs_exit_1_with_one_line(faces_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    result = invoke("forgery", empty)
    assert result.exit_code == 1
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [
        f"error: {empty}: cannot open as a video"]
    assert invoke("forgery", faces_dir / "examples" / "obama.jpg", "--model", "nope").exit_code == 1


def test_eval_forgery_json(deepfake_dir: Path, tmp_path: Path) -> None:
    images = sorted((deepfake_dir / "mesonet_test_images").glob("*/*.jpg"))
    labels = tmp_path / "labels.csv"
    labels.write_text("file,label\n" + "".join(f"{p},{'fake' if p.parent.name == 'df' else 'real'}\n" for p in images))
    result = invoke("eval", "forgery", "--labels", labels, "--root", "/", "--model", "meso4-df", "--no-robustness",
                    "--json", "--cache", tmp_path / "cache.sqlite")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["metrics"]["meso4-df"]["frame"]["n_real"] == 2 and out["metrics"]["meso4-df"]["frame"]["auc"] == 1.0


def test_eval_forgery_false_alarms_json(shared: Path, tmp_path: Path) -> None:
    utkface = shared / "data" / "utkface"
    if not (utkface / "labels.csv").is_file():
        pytest.skip(f"{utkface} not found")
    result = invoke("eval", "forgery-false-alarms", "--utkface", utkface, "-m", "sbi", "--per-race-calibration", 2,
                    "--per-race-evaluation", 2, "--json", "--cache", tmp_path / "scores.sqlite")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["faces"] == {"calibration": 10, "evaluation": 10} and out["models"] == ["sbi"]
    rates = out["false_alarms"]["sbi"]["aligned112"]["calibrated"]
    assert rates["threshold"] == out["thresholds"]["sbi"]["operating"]
    assert rates["overall"]["n"] + out["face_forms_without_a_decision"]["evaluation"] >= 10
    assert set(rates["gender"]["groups"]) == {"female", "male"}
    bad = invoke("eval", "forgery-false-alarms", "--utkface", tmp_path)
    assert bad.exit_code == 1 and "no UTKFace labels file" in bad.stderr


def test_eval_forgery_false_alarms_at_the_shipped_threshold(shared: Path, tmp_path: Path) -> None:
    utkface = shared / "data" / "utkface"
    if not (utkface / "labels.csv").is_file():
        pytest.skip(f"{utkface} not found")
    result = invoke("eval", "forgery-false-alarms", "--utkface", utkface, "--shipped", "--per-race-evaluation", 1,
                    "--json", "--cache", tmp_path / "scores.sqlite")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["model"] == "sbi" and out["threshold"] == 0.7358 and out["faces"] == 5
    assert set(out["false_alarms"]["original"]) >= {"overall", "gender", "race", "age_group"}


def test_no_face_rule_video_unavailable_exit_0_image_error_exit_1(tmp_path: Path) -> None:
    """The rule both `forgery` and `liveness check` follow (docs/cli.md): a video always has a
    video-level result, `unavailable` with `is_fake: null` when no sampled frame has a face (exit 0);
    an image without a face has no result at all, so it is an input error (exit 1)."""
    import cv2
    from skimage import data

    frame = cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR)
    video, image = tmp_path / "coffee.avi", tmp_path / "coffee.png"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (frame.shape[1], frame.shape[0]))
    for _ in range(3):
        writer.write(frame)
    writer.release()
    cv2.imwrite(str(image), frame)
    for command in (["forgery"], ["liveness", "check"]):
        alone = invoke(*command, video, "--every", 0, "--json")
        assert alone.exit_code == 0, alone.output
        [record] = json.loads(alone.stdout)
        unknown = "is_fake" if command == ["forgery"] else "is_live"
        assert record["status"] == "unavailable" and record[unknown] is None and record["score"] is None
        assert record["reason"] == "no face in any of the 3 sampled frames" and record["reason_codes"] == ["no_face"]
        both = invoke(*command, video, image, "--every", 0, "--json")
        assert both.exit_code == 1
        assert [r.get("error") for r in json.loads(both.stdout)] == [None, f"no face found in {image}"]
