"""The CLI end to end: JSON shapes, annotation, workers, models, and bad input."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from facetrust.cli.main import app

runner = CliRunner()
EXAMPLES = "faces/ageitgey_face_recognition/examples"


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def run_json(*args: str):
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_detect_folder_json_shape(shared):
    records = run_json("detect", shared / "data" / EXAMPLES / "knn_examples" / "test")
    assert len(records) == 5
    by_name = {Path(r["path"]).name: r for r in records}
    assert len(by_name["obama_and_biden.jpg"]["faces"]) == 3
    face = by_name["obama1.jpg"]["faces"][0]
    assert set(face) == {"box", "score", "landmarks"}
    assert len(face["box"]) == 4 and len(face["landmarks"]) == 5


def test_analyze_and_embed_include_embeddings(shared):
    for command in ("analyze", "embed"):
        record = run_json(command, shared / "data" / EXAMPLES / "obama.jpg")[0]
        assert {"path", "width", "height", "faces"} <= set(record)
        assert len(record["faces"][0]["embedding"]) == 512  # EdgeFace-XS, the default preset


def test_verify_json(shared):
    out = run_json("verify", shared / "data" / EXAMPLES / "obama.jpg", shared / "data" / EXAMPLES / "obama2.jpg")
    assert out["same"] is True and out["fmr"] == 1e-3
    assert out["similarity"] > out["threshold"]
    text = run("verify", shared / "data" / EXAMPLES / "obama.jpg", shared / "data" / EXAMPLES / "biden.jpg")
    assert text.exit_code == 0 and "DIFFERENT" in text.stdout


def test_demo_runs_on_packaged_images_only():
    out = run_json("demo")
    assert len(out["faces"]) == 1 and out["verify"]["same"] is False


def test_annotate_writes_images(shared, tmp_path):
    result = run("detect", shared / "data" / EXAMPLES / "two_people.jpg", "--annotate", tmp_path)
    assert result.exit_code == 0
    from facetrust.io import load_image

    assert load_image(tmp_path / "two_people.jpg").shape[:2] == (661, 1126)


def test_video_frames_are_sampled(shared):
    record = run_json("analyze", shared / "data" / EXAMPLES / "short_hamilton_clip.mp4", "--every", "1")[0]
    assert len(record["frames"]) >= 2
    assert record["frames"][0]["time"] == 0.0
    assert sum(len(f["faces"]) for f in record["frames"]) >= 1


def test_workers_use_processes_and_keep_order(shared, tmp_path):
    folder = tmp_path / "lfw"
    folder.mkdir()
    for person in sorted((shared / "data" / "lfw").glob("A*"))[:6]:
        for image in sorted(person.glob("*.jpg"))[:2]:
            shutil.copy(image, folder / image.name)
    env = {**os.environ, "FACETRUST_MODEL_DIR": os.environ.get("FACETRUST_MODEL_DIR", "")}
    outputs = []
    for workers in ("1", "2"):
        proc = subprocess.run([sys.executable, "-m", "facetrust.cli.main", "detect", str(folder), "--json", "-w", workers],
                              capture_output=True, text=True, env=env, check=True)
        outputs.append(json.loads(proc.stdout))
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) == len(list(folder.iterdir()))


@pytest.mark.parametrize(
    "name, content, message",
    [("missing.jpg", None, "no such file"), ("empty.jpg", b"", "empty"), ("text.png", b"hello", "not an image")],
)
def test_bad_input_gives_one_line_and_exit_1(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    result = run("detect", path)
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_verify_without_face_is_one_line(tmp_path, astronaut):
    from PIL import Image

    Image.new("RGB", (300, 300), (120, 120, 120)).save(tmp_path / "blank.png")
    Image.fromarray(astronaut).save(tmp_path / "a.png")
    result = run("verify", tmp_path / "a.png", tmp_path / "blank.png")
    assert result.exit_code == 1 and result.stderr.strip() == f"error: no face found in image b ({tmp_path / 'blank.png'})"


def test_bad_config_errors(shared):
    image = shared / "data" / EXAMPLES / "obama.jpg"
    assert "unknown detector 'nope'" in run("detect", image, "--detector", "nope").stderr
    assert "bad options for detector" in run("detect", image, "--detector-opt", "zoom=2").stderr
    assert "KEY=VALUE" in run("detect", image, "--detector-opt", "zoom").stderr
    assert "FMR" in run("verify", image, image, "--fmr", "1e-12").stderr


def test_models_list_and_verify(shared, tmp_path, monkeypatch):
    rows = run_json("models", "list")
    assert {r["name"]: r["status"] for r in rows}["yunet"] == "ok"
    assert run("models", "verify").exit_code == 0
    (tmp_path / "detection").mkdir()  # a zoo file (yunet ships in the package, never read from here)
    (tmp_path / "detection" / "version-RFB-320.onnx").write_bytes(b"not the model")
    monkeypatch.setenv("FACETRUST_MODEL_DIR", str(tmp_path))
    bad = run("models", "verify", "ultraface")
    assert bad.exit_code == 1 and "MISMATCH" in bad.stdout
    assert run("detect", shared / "data" / EXAMPLES / "obama.jpg", "-d", "ultraface").exit_code == 1


def _commands(command, path=()):
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def test_help_keeps_every_bracketed_word():
    """Rich markup eats an unescaped `[train]` in a help text; every command's help must show it."""
    import re

    import typer

    bracketed = re.compile(r"(?<!\\)\[[^\]\s]*\]")
    checked = 0
    for path, command in _commands(typer.main.get_command(app)):
        texts = [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params]
        words = [w for text in texts for w in bracketed.findall(text.replace("\\[", "["))]
        if not words:
            continue
        result = run(*path, "--help")
        assert result.exit_code == 0, result.output
        shown = " ".join(result.output.replace("│", " ").split())
        for word in words:
            assert word in shown, f"facetrust {' '.join(path)} --help lost {word}"
        checked += 1
    assert checked >= 1
