"""`facetrust extract` / `crop`, the output path rule of `analyze --annotate`, and `verify --select best-pair`
through the real CLI on real photos."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from facetrust.cli.main import app

runner = CliRunner()
EXAMPLES = "faces/ageitgey_face_recognition/examples"


def run(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def cli(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "facetrust.cli.main", *map(str, args)], capture_output=True,
                          text=True, env=dict(os.environ), timeout=300)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip() and "━" not in line]


@pytest.fixture()
def inputs(shared: Path, tmp_path: Path) -> Path:
    """in/a/x.jpg (one face), in/b/x.jpg (two faces), in/b/y.png (one face), in/b/notes.jpg (not an image)."""
    examples = shared / "data" / EXAMPLES
    for folder, source in (("a", "obama.jpg"), ("b", "two_people.jpg")):
        (tmp_path / "in" / folder).mkdir(parents=True)
        shutil.copy(examples / source, tmp_path / "in" / folder / "x.jpg")
    shutil.copy(examples / "biden.jpg", tmp_path / "in" / "b" / "y.jpg")
    Image.open(tmp_path / "in" / "b" / "y.jpg").save(tmp_path / "in" / "b" / "y.png")
    (tmp_path / "in" / "b" / "y.jpg").unlink()
    (tmp_path / "in" / "b" / "notes.jpg").write_text("not an image")
    return tmp_path / "in"


def written(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_extract_same_names_json_summary_and_bad_input(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run("extract", inputs, "--out", out, "--json")
    assert result.exit_code == 1  # notes.jpg is not an image: reported, the others are cropped
    assert error_lines(result.stderr) == [f"error: {inputs / 'b' / 'notes.jpg'}: not an image (unrecognised format)"]
    records = {Path(r["path"]).relative_to(inputs).as_posix(): r for r in json.loads(result.stdout)}
    assert set(records) == {"a/x.jpg", "b/x.jpg", "b/y.png", "b/notes.jpg"}
    assert "error" in records["b/notes.jpg"]
    assert [f["crop"] for f in records["b/x.jpg"]["faces"]] == [str(out / "b" / "x_0.png"), str(out / "b" / "x_1.png")]
    assert set(records["a/x.jpg"]["faces"][0]) == {"box", "score", "landmarks", "crop"}
    assert written(out) == ["a/x_0.png", "b/x_0.png", "b/x_1.png", "b/y_0.png"]
    for crop in out.rglob("*.png"):
        with Image.open(crop) as image:
            assert image.size == (112, 112) and image.format == "PNG"


def test_crop_alias_size_largest_and_input_format(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run("crop", inputs / "a", inputs / "b" / "x.jpg", inputs / "b" / "y.png", "-o", out, "--size", "200",
                 "--faces", "largest", "--format", "input")
    assert result.exit_code == 0, result.output
    assert written(out) == ["a/x_0.jpg", "b/x_0.jpg", "b/y_0.png"]
    assert result.stdout.splitlines()[0] == f"{inputs / 'a' / 'x.jpg'}: 1 face(s) -> {out / 'a' / 'x_0.jpg'}"
    for name, pil_format in (("a/x_0.jpg", "JPEG"), ("b/y_0.png", "PNG")):
        with Image.open(out / name) as image:
            assert image.size == (200, 200) and image.format == pil_format


def test_bad_size_is_one_line_from_the_entry_point(inputs: Path, tmp_path: Path) -> None:
    result = cli("extract", inputs, "--out", tmp_path / "out", "--size", "0")
    assert result.returncode == 1 and result.stdout == ""
    assert error_lines(result.stderr) == ["error: crop size must be an integer from 16 to 4096 px, got 0"]


@pytest.mark.parametrize("options, message", [
    (["--size", "-1"], "error: crop size must be an integer from 16 to 4096 px, got -1"),
    (["--size", "100000"], "error: crop size must be an integer from 16 to 4096 px, got 100000"),
    (["--faces", "biggest"], "error: faces must be one of all, largest, got 'biggest'"),
    (["--format", "heic"], "error: format must be one of png, input, got 'heic'"),
])
def test_bad_options_are_one_line_before_any_work(inputs: Path, tmp_path: Path, options: list[str],
                                                  message: str) -> None:
    result = run("extract", inputs, "--out", tmp_path / "out", *options)
    assert result.exit_code == 1 and error_lines(result.stderr) == [message] and result.stdout == ""
    assert not (tmp_path / "out").exists() or written(tmp_path / "out") == []


def test_no_face_and_unwritable_out(shared: Path, tmp_path: Path) -> None:
    blank = tmp_path / "blank.png"
    Image.new("RGB", (300, 300), (90, 90, 90)).save(blank)
    result = cli("extract", blank, "--out", tmp_path / "out")
    assert result.returncode == 1 and error_lines(result.stderr) == [f"error: {blank}: no face found"]
    result = cli("extract", shared / "data" / EXAMPLES / "obama.jpg", "--out", blank)
    assert result.returncode == 1
    assert error_lines(result.stderr) == [f"error: output folder {blank}: is a file, not a folder"]


def test_analyze_annotate_keeps_folders_and_formats(shared: Path, tmp_path: Path) -> None:
    examples = shared / "data" / EXAMPLES
    (tmp_path / "in" / "a").mkdir(parents=True)
    (tmp_path / "in" / "b").mkdir()
    shutil.copy(examples / "obama.jpg", tmp_path / "in" / "a" / "x.jpg")
    Image.open(examples / "biden.jpg").save(tmp_path / "in" / "b" / "x.png")
    Image.open(examples / "biden.jpg").convert("P").save(tmp_path / "in" / "b" / "x.gif")
    out = tmp_path / "out"
    result = run("analyze", tmp_path / "in", "--annotate", out, "--json")
    assert result.exit_code == 0, result.output
    # GIF (a 256-colour palette) is not kept: PNG, with .png appended so it never meets x.png's copy.
    assert written(out) == ["a/x.jpg", "b/x.gif.png", "b/x.png"]
    for name, pil_format in (("a/x.jpg", "JPEG"), ("b/x.png", "PNG"), ("b/x.gif.png", "PNG")):
        with Image.open(out / name) as image:
            assert image.format == pil_format


def test_verify_best_pair_and_the_several_faces_hint(shared: Path) -> None:
    group = shared / "data" / EXAMPLES / "knn_examples" / "test" / "obama_and_biden.jpg"
    biden = shared / "data" / EXAMPLES / "biden.jpg"
    # dlib's HOG detector: its largest face in this photo is Obama (face 0), Biden is face 1.
    largest = run("verify", group, biden, "--preset", "dlib")
    assert largest.exit_code == 0 and largest.stdout.startswith("DIFFERENT people")
    assert "note: image a has 3 faces, face 0 at (" in largest.stdout
    best = run("verify", group, biden, "--select", "best-pair", "--json", "--preset", "dlib")
    assert best.exit_code == 0, best.output
    answer = json.loads(best.stdout)
    assert answer["same"] is True and (answer["index_a"], answer["index_b"], answer["comparisons"]) == (1, 0, 3)
    assert answer["fmr_upper_bound"] == pytest.approx(3 * answer["fmr"])
    assert answer["hint"].startswith("best of 3 x 1 = 3 face pairs: face 1 of a at (")
