"""``facetrust quality assess``: JSON shape, table, and one readable line for bad input."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from facetrust.cli.main import app

runner = CliRunner()


def test_assess_json(faces_dir):
    result = runner.invoke(app, ["quality", "assess", str(faces_dir / "examples" / "two_people.jpg"),
                                 "--method", "explainable", "--json"])
    assert result.exit_code == 0, result.output
    [record] = json.loads(result.stdout)
    assert len(record["faces"]) == 2
    quality = record["faces"][0]["quality"]
    assert quality["method"] == "explainable" and 0 <= quality["score"] <= 100
    assert isinstance(quality["acceptable"], bool) and isinstance(quality["reasons"], list)
    assert quality["components"]["yaw_deg"] is not None


def test_assess_table_and_threshold_override(faces_dir):
    result = runner.invoke(app, ["quality", "assess", str(faces_dir / "examples" / "obama.jpg"), "--method",
                                 "explainable", "--threshold", "101"])
    assert result.exit_code == 0, result.output
    assert "│ no │" in result.stdout and "│ yes │" not in result.stdout  # nothing reaches 101


def test_bad_input_is_one_line(faces_dir, tmp_path):
    missing = runner.invoke(app, ["quality", "assess", str(tmp_path / "nope.jpg"), "--method", "explainable"])
    assert missing.exit_code == 1 and missing.output.strip().startswith("error:")
    unknown = runner.invoke(app, ["quality", "assess", str(faces_dir / "examples" / "obama.jpg"), "--method", "magic"])
    assert unknown.exit_code == 1 and "unknown quality assessor 'magic'" in unknown.output
    uncalibrated = runner.invoke(app, ["quality", "assess", str(faces_dir / "examples" / "obama.jpg"),
                                       "--method", "learned", "--recognizer", "mobilefacenet"])
    assert uncalibrated.exit_code == 1 and "not calibrated for recognizer 'mobilefacenet'" in uncalibrated.output
    assert len(uncalibrated.output.strip().splitlines()) == 1
