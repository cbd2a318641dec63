"""``facetrust liveness`` and ``facetrust eval pad`` end to end on the spoof samples."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from facetrust.cli.main import app

runner = CliRunner()


def run(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def test_check_folder_json(spoof_dir):
    result = run("liveness", "check", spoof_dir / "silent_face", "--json")
    assert result.exit_code == 0, result.output
    records = {Path(r["path"]).name: r for r in json.loads(result.stdout)}
    assert {name: r["faces"][0]["liveness"]["status"] for name, r in records.items()} == {
        "image_F1.jpg": "spoof", "image_F2.jpg": "spoof", "image_T1.jpg": "live"}


def test_check_without_a_face_exits_1_with_one_line(tmp_path):
    from PIL import Image
    from skimage import data

    Image.fromarray(data.coffee()).save(tmp_path / "coffee.png")
    result = run("liveness", "check", tmp_path / "coffee.png")
    assert result.exit_code == 1
    assert "error: no face found" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_eval_pad_report(spoof_dir, tmp_path):
    cache = tmp_path / "cache.sqlite"
    result = run("eval", "pad", "--labels", spoof_dir / "labels.csv", "--report", tmp_path / "report", "--json",
                 "--cache", cache)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    metrics = out["metrics"]["minifasnet"]
    assert metrics["apcer"] == {"print": 0.0, "replay": 0.0} and metrics["bpcer"] == 0.0 and metrics["acer"] == 0.0
    assert metrics["n_bona_fide"] == 1 and metrics["bpcer_at_apcer"] == {"0.05": None, "0.1": None}
    assert out["dataset"]["attack_species"] == "print, replay"
    for name in ("report.json", "report.md", "report.html", "det.png", "presentations.csv"):
        assert (tmp_path / "report" / name).is_file(), name
    with sqlite3.connect(cache) as db:  # every result is stored: a rerun resumes from here
        assert db.execute("SELECT COUNT(*) FROM liveness").fetchone()[0] == 3
    table = run("liveness", "eval", "--labels", spoof_dir / "labels.csv", "--cache", cache)
    assert table.exit_code == 0 and "APCER print" in table.stdout


def test_bad_labels_file(tmp_path):
    (tmp_path / "labels.csv").write_text("file,label\nmissing.jpg,live\n")
    result = run("eval", "pad", "--labels", tmp_path / "labels.csv", "--cache", tmp_path / "cache.sqlite")
    assert result.exit_code == 1 and "missing.jpg not found" in result.stderr


def test_fit_writes_a_calibration(spoof_dir, tmp_path):
    result = run("liveness", "fit", "--labels", spoof_dir / "labels.csv", "--out", tmp_path / "cal.json",
                 "--cache", tmp_path / "cache.sqlite")
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "cal.json").read_text())
    assert saved["model"] == "minifasnet" and saved["fitted_on"]["n_attacks"] == 2
    checked = run("liveness", "check", spoof_dir / "silent_face" / "image_T1.jpg", "--calibration",
                  tmp_path / "cal.json", "--json")
    assert json.loads(checked.stdout)[0]["faces"][0]["liveness"]["model"] == "minifasnet+calibration"


def test_video_check_with_cues_reports_the_blink(shared):
    # The first 3 s of this real DFDC clip hold one blink (eyes shut at 2.47-2.77 s, checked by eye).
    clip = shared / "data" / "deepfake" / "aaronchong888" / "videos" / "abqwwspghj.mp4"
    result = run("liveness", "check", clip, "--max-frames", "3", "--cues", "90", "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)[0]
    assert record["status"] == "live"
    cues = record["cues"]
    subject = next(t for t in cues["tracks"] if t["track"] == cues["subject_track"])
    assert cues["frames_seen"] == 90 and subject["frames"] >= 85
    assert len(subject["blinks"]) == 1 and 2.3 < subject["blinks"][0]["start"] < 2.9
    assert subject["planar_residual"] is not None and subject["challenge"]["passed"] is False
    table = run("liveness", "check", clip, "--max-frames", "2", "--cues", "30")
    assert table.exit_code == 0 and "video cues" in table.output


def test_unknown_liveness_is_null_in_the_json_tight_crop_and_video_without_a_face(shared, faceless_video):
    crop = shared / "data" / "utkface" / "images" / "36_1_0_20170104171550313.jpg.chip.jpg"
    result = run("liveness", "check", crop, faceless_video, "--every", "0", "--json")
    assert result.exit_code == 0, result.output
    image, video = json.loads(result.stdout)
    liveness = image["faces"][0]["liveness"]
    assert liveness["status"] == "unavailable" and liveness["is_live"] is None and liveness["score"] is None
    assert liveness["reason"].startswith("tight face crop") and liveness["reason_code"] == "tight_crop"
    assert video["status"] == "unavailable" and video["is_live"] is None and video["tracks"] == []
    assert video["reason"] == "no face in any of the 5 sampled frames" and video["reason_codes"] == ["no_face"]
    table = runner.invoke(app, ["liveness", "check", str(faceless_video), "--every", "0"], env={"COLUMNS": "250"})
    assert table.exit_code == 0 and "no face in any of the 5 sampled frames" in table.stdout
