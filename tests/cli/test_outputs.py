"""CLI output formats: compact JSON (one line per record) by default, --indent for pretty
JSON with vectors on one line, and tables whose path column keeps the file names."""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

from typer.testing import CliRunner

from facetrust.cli.common import format_json
from facetrust.cli.main import app

runner = CliRunner()
EXAMPLES = "faces/ageitgey_face_recognition/examples"


def test_json_is_one_line_per_record_and_parses(shared: Path) -> None:
    folder = shared / "data" / EXAMPLES / "knn_examples" / "test"
    result = runner.invoke(app, ["detect", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    records = json.loads(result.stdout)
    assert len(records) == 5 and lines[0] == "[" and lines[-1] == "]"
    assert [json.loads(line.rstrip(",")) for line in lines[1:-1]] == records  # each record: one line


def test_indent_pretty_prints_with_vectors_on_one_line(shared: Path) -> None:
    image = shared / "data" / EXAMPLES / "obama.jpg"
    compact = runner.invoke(app, ["embed", str(image), "--json"])
    pretty = runner.invoke(app, ["--indent", "2", "embed", str(image), "--json"])
    assert compact.exit_code == 0 and pretty.exit_code == 0, pretty.output
    assert json.loads(pretty.stdout) == json.loads(compact.stdout)
    lines = pretty.stdout.splitlines()
    embedding = next(line for line in lines if '"embedding"' in line)
    assert len(json.loads("{" + embedding.strip().rstrip(",") + "}")["embedding"]) == 512
    assert any(line.startswith('        "landmarks": [[') for line in lines)
    assert len(lines) < 25  # not one number per line
    assert runner.invoke(app, ["--indent", "-1", "info", "--json"]).exit_code != 0


def test_format_json_writes_nan_as_null_and_numpy_values() -> None:
    import numpy as np

    text = format_json({"score": math.nan, "box": np.array([1.5, 2.0]), "n": np.int64(3)})
    assert json.loads(text) == {"score": None, "box": [1.5, 2.0], "n": 3}
    assert "\\u202e" in format_json([{"id": "a\u202eb"}])  # a right-to-left override stays escaped


def test_table_path_column_keeps_file_names_in_deep_folders(shared: Path, tmp_path: Path) -> None:
    deep = tmp_path.joinpath("a_rather_long_folder_name_for_photos", "from_the_2024_summer_holidays", "day_one")
    deep.mkdir(parents=True)
    names = ["obama_first_photo.jpg", "obama_second_photo.jpg"]
    for name, source in zip(names, ("obama.jpg", "obama2.jpg")):
        shutil.copy(shared / "data" / EXAMPLES / source, deep / name)
    result = runner.invoke(app, ["detect", str(deep)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    table = result.stdout
    for name in names:
        assert name in table  # the whole file name, on one line
    assert "…/obama_first_photo.jpg" in table and str(deep)[:20] not in table  # cut at the start, not the end
