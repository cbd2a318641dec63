"""An exported model registered as a local recognizer (``facetrust train export --register``): its
thresholds are calibrated on real LFW identities, and ``--recognizer NAME`` then works in verify,
gallery and eval through the real CLI; bad names and damaged files are one-line errors."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("torch")

from facetrust.cli.main import app  # noqa: E402
from facetrust.defaults import DEFAULT_DETECTOR  # noqa: E402
from facetrust.training.config import load_config  # noqa: E402
from facetrust.training.trainer import train_recognizer  # noqa: E402
from facetrust.zoo.store import sha256_of  # noqa: E402

NAME = "tiny-mfn"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def calibration_people(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first LFW people (sorted) with >= 8 images until 400 images are reached (18 people, 408
    images): enough impostor pairs (about 76,000) for thresholds down to FMR 1e-3, the default."""
    root = tmp_path_factory.mktemp("calibration")
    images = 0
    for person in sorted((shared / "data" / "lfw").iterdir()):
        count = len(list(person.glob("*.jpg")))
        if count >= 8 and images < 400:
            (root / person.name).symlink_to(person, target_is_directory=True)
            images += count
    return root


@pytest.fixture(scope="module")
def registered(aligned_cache: Path, calibration_people: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The zoo MobileFaceNet after one training step on 4 LFW identities, exported and registered
    through the CLI with a local manifest in a temporary folder."""
    work = tmp_path_factory.mktemp("register")
    config = load_config("base", [f"data={aligned_cache}", "aligned=true", f"output={work / 'run'}", "batch_size=8",
                                  "max_steps=1", "lr=0.0001", "pretrained=zoo", "seed=3"])
    checkpoint = train_recognizer(config, progress=False).checkpoint
    env = {**os.environ, "FACETRUST_LOCAL_MODELS": str(work / "config" / "local_models.json"),
           "FACETRUST_CACHE_DIR": str(work / "cache" / "models"), "PYTHONPATH": str(ROOT)}
    run = _cli(env, "train", "export", str(checkpoint), str(work / "tiny.onnx"), "--register", NAME,
               "--calibrate-on", str(calibration_people), "--json")
    assert run.returncode == 0, run.stderr
    return {"env": env, "work": work, "checkpoint": checkpoint, "record": json.loads(run.stdout)}


def _cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "facetrust.cli.main", *args], capture_output=True, text=True, env=env)


def _error_lines(stderr: str) -> list[str]:
    """stderr without the licence warning a model of unstated licence gets on loading."""
    return [line for line in stderr.splitlines() if not line.startswith("warning: model")]


def test_registration_writes_manifest_checksum_and_calibration(registered: dict) -> None:
    work, record = registered["work"], registered["record"]
    manifest = json.loads((work / "config" / "local_models.json").read_text())
    (entry,) = manifest["models"]
    assert entry["name"] == NAME and entry["task"] == "recognition"
    assert entry["files"][0]["path"] == str(work / "tiny.onnx")
    assert entry["files"][0]["sha256"] == sha256_of(work / "tiny.onnx") == record["sha256"]
    assert entry["recognizer"] == {"size": 112, "channels": "RGB", "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0],
                                   "dim": 128, "alignment": "arcface"}
    assert entry["source"].startswith(f"trained locally from {registered['checkpoint']}")
    assert entry["license"].startswith("not stated") and entry["commercial_use"] is False
    calibration = json.loads((work / "config" / "calibration" / f"{NAME}.json").read_text())
    assert calibration == record["calibration"]
    assert calibration["dataset"].startswith("calibration") and "all cross-identity pairs" in calibration["dataset"]
    assert calibration["impostor_pairs"] > 50_000 and calibration["fmr"][0] <= 1e-3
    # Thresholds fall as the FMR grows, and a recognizer that separates people has genuine scores above them.
    assert np.all(np.diff(calibration["threshold"]) < 0)
    assert calibration["fnmr"][-1] < 0.5


def test_verify_gallery_and_eval_use_the_registered_recognizer(registered: dict, shared: Path) -> None:
    env, work = registered["env"], registered["work"]
    lfw = shared / "data" / "lfw"
    same = _cli(env, "verify", str(lfw / "Al_Gore" / "Al_Gore_0001.jpg"), str(lfw / "Al_Gore" / "Al_Gore_0003.jpg"),
                "--recognizer", NAME, "--json")
    assert same.returncode == 0, same.stderr
    result = json.loads(same.stdout)
    calibration = registered["record"]["calibration"]
    # The decision threshold is the registered calibration's at the default FMR 1e-3.
    expected = float(np.interp(np.log10(1e-3), np.log10(calibration["fmr"]), calibration["threshold"]))
    assert result["threshold"] == pytest.approx(expected, abs=1e-6)
    assert result["same"] is True

    gallery = str(work / "people.db")
    assert _cli(env, "gallery", "create", gallery, "--recognizer", NAME).returncode == 0
    for person in ("Al_Gore", "Angela_Bassett"):
        enrolled = _cli(env, "gallery", "enroll", gallery, "--id", person, str(lfw / person / f"{person}_0001.jpg"))
        assert enrolled.returncode == 0, enrolled.stderr
    found = _cli(env, "gallery", "search", gallery, str(lfw / "Angela_Bassett" / "Angela_Bassett_0002.jpg"), "--json")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)[0]["results"][0]["identity"] == "Angela_Bassett"

    evaluated = _cli(env, "eval", "lfw", "--root", str(lfw), "--pairs", str(shared / "data" / "lfw_pairs.txt"),
                     "--recognizer", NAME, "--folds", "2", "--max-pairs", "40", "--workers", "1", "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    metrics = json.loads(evaluated.stdout)["metrics"]
    assert list(metrics) == [f"{DEFAULT_DETECTOR}+{NAME}"]


def test_damaged_or_missing_model_file_is_one_error_line(registered: dict, shared: Path) -> None:
    env, onnx = registered["env"], registered["work"] / "tiny.onnx"
    image = str(shared / "data" / "lfw" / "Al_Gore" / "Al_Gore_0001.jpg")
    original = onnx.read_bytes()
    try:
        onnx.write_bytes(original[:-10] + b"0123456789")
        damaged = _cli(env, "verify", image, image, "--recognizer", NAME)
        (line,) = _error_lines(damaged.stderr)
        assert damaged.returncode == 1 and "does not match the manifest" in line and "register it again" in line
        onnx.unlink()
        missing = _cli(env, "verify", image, image, "--recognizer", NAME)
        (line,) = _error_lines(missing.stderr)
        assert missing.returncode == 1 and f"not found at {onnx}" in line
    finally:
        onnx.write_bytes(original)


def test_bad_names_are_one_error_line_and_write_nothing(registered: dict, calibration_people: Path,
                                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACETRUST_LOCAL_MODELS", registered["env"]["FACETRUST_LOCAL_MODELS"])
    runner = CliRunner()
    manifest = Path(registered["env"]["FACETRUST_LOCAL_MODELS"])
    before = manifest.read_bytes()
    checkpoint = str(registered["checkpoint"])
    cases = [
        (["train", "export", checkpoint, str(tmp_path / "a.onnx"), "--register", "mobilefacenet",
          "--calibrate-on", str(calibration_people)], "error: 'mobilefacenet' is the name of a packaged model"),
        (["train", "export", checkpoint, str(tmp_path / "a.onnx"), "--register", "My Model",
          "--calibrate-on", str(calibration_people)], "error: model name 'My Model' must be lower-case"),
        (["train", "export", checkpoint, str(tmp_path / "a.onnx"), "--register", NAME,
          "--calibrate-on", str(calibration_people)], f"error: a local model '{NAME}' is already registered"),
        (["train", "export", checkpoint, str(tmp_path / "a.onnx"), "--register", "other"],
         "error: --register needs --calibrate-on"),
        (["verify", "x.jpg", "y.jpg", "--recognizer", "no-such-model"], "error: unknown recognizer 'no-such-model'"),
    ]
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith(message) and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "a.onnx").exists()
    assert manifest.read_bytes() == before


def test_models_list_shows_and_remove_drops_a_local_model(registered: dict, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    copy = tmp_path / "config"
    shutil.copytree(Path(registered["env"]["FACETRUST_LOCAL_MODELS"]).parent, copy)
    monkeypatch.setenv("FACETRUST_LOCAL_MODELS", str(copy / "local_models.json"))
    runner = CliRunner()
    listed = runner.invoke(app, ["models", "list", "--task", "recognition", "--json"])
    assert {"name": NAME, "status": "ok"}.items() <= next(r for r in json.loads(listed.stdout) if r["name"] == NAME).items()
    assert runner.invoke(app, ["models", "remove", NAME]).exit_code == 0
    assert json.loads((copy / "local_models.json").read_text())["models"] == []
    assert not (copy / "calibration" / f"{NAME}.json").exists() and (registered["work"] / "tiny.onnx").is_file()
    again = runner.invoke(app, ["models", "remove", NAME])
    assert again.exit_code == 1 and again.stderr.startswith(f"error: no locally registered model '{NAME}'")
