"""``facetrust train recognizer`` through the real CLI: a tiny run from raw identity folders, and bad input."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("torch")

from facetrust.cli.main import app  # noqa: E402

runner = CliRunner()


def test_train_from_identity_folders(identity_tree: Path, aligned_cache: Path, tmp_path: Path) -> None:
    (tmp_path / "tiny.toml").write_text('extends = "' + str(Path(__file__).parents[2] / "facetrust/training/configs/base.toml")
                                        + '"\nbatch_size = 4\nmax_steps = 2\nhead = "arcface"\ncifp = 1.0\n')
    result = runner.invoke(app, ["train", "recognizer", str(tmp_path / "tiny.toml"), "--json",
                                 "--set", f"data={identity_tree}", "--set", f"cache_dir={aligned_cache}",
                                 "--set", f"output={tmp_path / 'run'}"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["steps"] == 2 and record["identities"] == 4
    assert len(record["data"]["corrupt"]) == 2 and record["data"]["too_few_images"] == ["AJ_Cook"]
    assert (tmp_path / "run" / "checkpoint.pt").is_file()


@pytest.mark.parametrize("args, message", [
    (["base", "--set", "batch_size=x"], "error: --set: batch_size must be int, got 'x'"),
    (["base"], "error: set data = the folder of identity folders"),
    (["missing.toml"], "error: config file not found"),
    (["base", "--set", "data=/nowhere"], "error: training data folder not found: /nowhere"),
])
def test_bad_input_is_one_error_line(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["train", "recognizer", *args])
    assert result.exit_code == 1
    assert result.stderr.strip().startswith(message) and len(result.stderr.strip().splitlines()) == 1


def test_export_of_a_missing_checkpoint_is_one_error_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", "export", str(tmp_path / "none.pt"), str(tmp_path / "m.onnx")])
    assert result.exit_code == 1 and result.stderr.strip() == f"error: no checkpoint at {tmp_path / 'none.pt'}"
    assert not (tmp_path / "m.onnx").exists()
