"""The ``attributes`` face check through the analyzer, the CLI and CompreFace's plugin shapes."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from facetrust.analyzer import FaceAnalyzer
from facetrust.attributes.check import compreface_plugins
from facetrust.cli.main import app


def test_analyzer_check_and_compreface_shapes(astronaut):
    analyzer = FaceAnalyzer(checks=("attributes",))
    (face,) = analyzer.analyze_rgb(astronaut)
    attributes = face.to_dict()["attributes"]
    assert set(attributes) == {"age", "gender", "eyes"}
    shapes = compreface_plugins(attributes, {"age", "gender"})
    assert shapes["gender"] == {"probability": attributes["gender"]["probability"], "value": "female"}
    assert shapes["age"]["low"] <= attributes["age"]["value"] <= shapes["age"]["high"]
    assert compreface_plugins(attributes, {"landmarks"}) == {}


def test_track_aggregate_of_real_frames(astronaut):
    analyzer = FaceAnalyzer(checks=("attributes",))
    check = analyzer.checks[0]
    frames = [analyzer.analyze_rgb(image)[0].extras["attributes"] for image in (astronaut, astronaut[:, ::-1].copy())]
    track = check.aggregate(frames)
    assert track["gender"]["label"] == "female" and track["gender"]["frames"] == 2
    assert min(f["age"]["value"] for f in frames) <= track["age"]["value"] <= max(f["age"]["value"] for f in frames)


def test_cli_analyze_with_attributes(grace_hopper_path):
    runner = CliRunner()
    result = runner.invoke(app, ["analyze", "--check", "attributes", "--check-opt",
                                 "attributes.attributes=age,gender,expression", "--json", str(grace_hopper_path)])
    assert result.exit_code == 0, result.output
    (face,) = json.loads(result.stdout)[0]["faces"]
    assert set(face["attributes"]) == {"age", "gender", "expression"}
    table = runner.invoke(app, ["analyze", "--check", "attributes", str(grace_hopper_path)])
    assert table.exit_code == 0 and "age " in table.output
    bad = runner.invoke(app, ["analyze", "--check", "attributes", "--check-opt", "attributes.attributes=height",
                              str(grace_hopper_path)])
    assert bad.exit_code != 0 and "unknown attribute model 'height'" in bad.output
