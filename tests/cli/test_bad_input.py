"""Bad input through the real CLI (issue 14): unreadable files in folder runs, detector and
check options, annotation targets, the pixel limit, missing models, option names, and the
one-line error contract (checked in a subprocess where C libraries write to stderr)."""
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


def cli(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The installed entry point's code path (``main``), in a child process."""
    return subprocess.run([sys.executable, "-m", "facetrust.cli.main", *map(str, args)], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=300)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip() and "━" not in line]


@pytest.fixture()
def photo(shared: Path) -> Path:
    return shared / "data" / EXAMPLES / "obama.jpg"


def test_unreadable_files_in_a_folder_are_reported_and_skipped(tmp_path, photo):
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(photo, folder / "good.jpg")
    (folder / "mem.jpg").symlink_to("/proc/self/mem")  # EIO on read, also for root
    os.mkfifo(folder / "pipe.png")  # would block a reader forever
    (folder / "gone.jpg").symlink_to(folder / "deleted.jpg")
    (folder / "album.jpg").mkdir()  # a folder named like an image: walked, not read
    result = cli("detect", folder, "--json")
    assert result.returncode == 1
    records = {Path(r["path"]).name: r for r in json.loads(result.stdout)}
    assert set(records) == {"good.jpg", "mem.jpg", "pipe.png", "gone.jpg"}
    assert len(records["good.jpg"]["faces"]) == 1
    assert "cannot read" in records["mem.jpg"]["error"]
    assert "not a regular file" in records["pipe.png"]["error"]
    assert "no such file" in records["gone.jpg"]["error"]
    assert sorted(error_lines(result.stderr)) == sorted(f"error: {r['error']}" for r in records.values() if "error" in r)


DLIB_HOG = ["-d", "dlib-hog"]  # upsample, threshold and max_side from 80 are dlib-hog's options


@pytest.mark.parametrize("options, message", [
    ([*DLIB_HOG, "--detector-opt", "upsample=x"], "upsample must be an integer from 0 to 2 or null, got 'x'"),
    ([*DLIB_HOG, "--detector-opt", "upsample=-1"], "got -1"),
    ([*DLIB_HOG, "--detector-opt", "upsample=10**9"], "got '10**9'"),
    ([*DLIB_HOG, "--detector-opt", "upsample=1000000000"], "got 1000000000"),
    ([*DLIB_HOG, "--detector-opt", "upsample=true"], "got True"),
    ([*DLIB_HOG, "--detector-opt", "upsample=" + "9" * 5000], "got '9999"),  # past Python's int-parsing limit
    ([*DLIB_HOG, "--detector-opt", "upsample=" + "[" * 100_000], "got '[[[["),  # past JSON's nesting limit
    ([*DLIB_HOG, "--detector-opt", "threshold=NaN"], "threshold must be a number"),
    ([*DLIB_HOG, "--detector-opt", "max_side=0"], "max_side must be an integer from 80 to 8192"),
    (["-d", "yunet", "--detector-opt", "score_threshold=2"], "score_threshold must be a number from 0 to 1"),
    (["-d", "yunet", "--detector-opt", "top_k=0"], "top_k must be an integer"),
    (["-d", "ultraface", "--detector-opt", "nms_threshold=\"high\""], "nms_threshold must be a number"),
])
def test_bad_detector_options_are_one_line_before_any_work(photo, options, message):
    result = run("detect", photo, *options)
    assert result.exit_code == 1
    assert error_lines(result.stderr) == [error_lines(result.stderr)[0]] and message in result.stderr
    assert result.stderr.startswith("error: bad option for detector")


@pytest.mark.parametrize("options, message", [
    (["-r", "dlib-resnet", "--recognizer-opt", "num_jitters=100000"], "recognizer 'dlib-resnet': num_jitters must be an integer from 0 to 100"),
    (["-r", "mobilefacenet", "--recognizer-opt", "flip=1"], "flip must be true or false, got 1"),
    (["-c", "liveness", "--check-opt", "liveness.threshold=5"], "face check 'liveness': threshold must be a number from 0 to 1"),
    (["-c", "forgery", "--check-opt", "forgery.model=3"], "face check 'forgery': model must be a string"),
    # The default preset's recognizer (EdgeFace-XS) has no learned quality model: the check runs explainable.
    (["-c", "quality", "--check-opt", "quality.threshold=-1"], "quality assessor 'explainable': threshold must be a number >= 0"),
])
def test_bad_recognizer_and_check_options_fail_once(tmp_path, photo, options, message):
    folder = tmp_path / "two"
    folder.mkdir()
    for name in ("a.jpg", "b.jpg"):
        shutil.copy(photo, folder / name)
    result = run("analyze", folder, *options)
    assert result.exit_code == 1
    assert len(error_lines(result.stderr)) == 1 and message in result.stderr, result.stderr


def test_missing_model_is_reported_once_before_the_run(tmp_path, photo):
    folder = tmp_path / "three"
    folder.mkdir()
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        shutil.copy(photo, folder / name)
    empty = {"FACETRUST_MODEL_DIR": str(tmp_path / "no-models"), "FACETRUST_CACHE_DIR": str(tmp_path / "no-cache"),
             "FACETRUST_OFFLINE": "1"}
    # yunet and sbi ship in the package (never missing); ultraface and meso4-df are zoo files.
    for command, model in ((["detect", folder, "-d", "ultraface"], "'ultraface'"),
                           (["liveness", "check", folder], "'minifasnet"), (["forgery", folder, "-m", "meso4-df"], "'meso4-df'")):
        result = cli(*command, env=empty)
        assert result.returncode == 1, command
        lines = error_lines(result.stderr)
        assert len(lines) == 1 and model in lines[0] and "Traceback" not in result.stderr, (command, result.stderr)
        assert result.stdout == ""


def test_annotate_target_errors_are_one_line(tmp_path, photo):
    existing = tmp_path / "taken.png"
    existing.write_bytes(b"not a folder")
    result = run("detect", photo, "--annotate", existing)
    assert result.exit_code == 1 and error_lines(result.stderr) == [f"error: --annotate {existing}: is a file, not a folder"]
    assert existing.read_bytes() == b"not a folder"
    below_a_file = existing / "out"
    result = run("detect", photo, "--annotate", below_a_file)
    assert result.exit_code == 1 and len(error_lines(result.stderr)) == 1
    assert error_lines(result.stderr)[0].startswith(f"error: --annotate {below_a_file}: cannot create the folder")


def test_annotate_never_overwrites_inputs_or_each_other(tmp_path, shared):
    examples = shared / "data" / EXAMPLES
    for folder, source in (("a", "obama.jpg"), ("b", "biden.jpg")):
        (tmp_path / "in" / folder).mkdir(parents=True)
        shutil.copy(examples / source, tmp_path / "in" / folder / "face.jpg")
    Image.open(examples / "two_people.jpg").save(tmp_path / "in" / "b" / "pair.png")
    out = tmp_path / "out"
    result = run("detect", tmp_path / "in", "--annotate", out)
    assert result.exit_code == 0, result.output
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == ["a/face.jpg", "b/face.jpg", "b/pair.png"]
    assert Image.open(out / "a" / "face.jpg").format == "JPEG" and Image.open(out / "b" / "pair.png").format == "PNG"
    assert Image.open(out / "a" / "face.jpg").size == Image.open(examples / "obama.jpg").size
    # Into the inputs' own folder: refused before anything is written.
    before = (tmp_path / "in" / "a" / "face.jpg").read_bytes()
    result = run("detect", tmp_path / "in" / "a" / "face.jpg", "--annotate", tmp_path / "in" / "a")
    assert result.exit_code == 1 and "would replace it" in result.stderr and len(error_lines(result.stderr)) == 1
    assert (tmp_path / "in" / "a" / "face.jpg").read_bytes() == before


def test_pixel_limit_option_and_environment(tmp_path, photo):
    result = cli("detect", photo, env={"FACETRUST_MAX_PIXELS": "500000"})
    assert result.returncode == 1
    assert error_lines(result.stderr) == [f"error: {photo}: 910x1137 = 1,034,670 pixels exceeds the limit of 500,000"]
    assert run("detect", photo, "--max-pixels", "2000000", "--json").exit_code == 0


def test_usage_errors_and_video_errors_are_one_line(tmp_path, shared):
    bad = cli("detect", "x.jpg", "--max-pixels", "lots")
    assert bad.returncode == 2 and len(error_lines(bad.stderr)) == 1 and bad.stderr.startswith("error: ")
    assert "--max-pixels" in bad.stderr
    clip = (shared / "data" / EXAMPLES / "short_hamilton_clip.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(clip[:20_000])  # no moov atom: FFmpeg would print its own line
    (tmp_path / "text.mp4").write_text("not a video\n")
    result = cli("analyze", tmp_path / "cut.mp4", tmp_path / "text.mp4", "--json")
    assert result.returncode == 1
    assert error_lines(result.stderr) == [f"error: {tmp_path / 'cut.mp4'}: cannot open as a video",
                                          f"error: {tmp_path / 'text.mp4'}: cannot open as a video"]


def test_models_verify_fails_without_any_zoo_file(tmp_path):
    env = {"FACETRUST_MODEL_DIR": str(tmp_path / "empty"), "FACETRUST_CACHE_DIR": str(tmp_path / "cache")}
    result = cli("models", "verify", env=env)
    assert result.returncode == 1
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        line for line in result.stderr.splitlines() if line.startswith("error: none of the")]
    # Embedded models only (files inside pip packages): nothing to fetch, exit 0.
    assert cli("models", "verify", "dlib-resnet", env=env).returncode == 0


def test_liveness_and_forgery_share_one_option_scheme(photo):
    forgery = run("forgery", photo, "--model", "sbi", "--detector", "yunet", "--json")
    assert forgery.exit_code == 0, forgery.output
    assert json.loads(forgery.stdout)[0]["faces"][0]["forgery"]["model"] == "sbi"
    old = run("forgery", photo, "-m", "sbi", "--face-detector", "yunet", "--json")  # hidden deprecated spelling
    assert old.exit_code == 0 and json.loads(old.stdout) == json.loads(forgery.stdout)
    liveness = run("liveness", "check", photo, "-m", "minifasnet", "-d", "yunet", "--json")
    assert liveness.exit_code == 0, liveness.output
    checked = run("analyze", photo, "-d", "yunet", "-c", "forgery", "--check-opt", "forgery.model=sbi", "--json")
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout)[0]["faces"][0]["forgery"]["model"] == "sbi"


def test_port_out_of_range_and_missing_pair_file_are_one_line(tmp_path):
    import subprocess
    import sys

    for args in (["serve", "--port", "99999"], ["eval", "lfw", "--root", str(tmp_path), "--pairs", str(tmp_path / "no.txt")]):
        done = subprocess.run([sys.executable, "-m", "facetrust.cli.main", *args], capture_output=True, text=True,
                              timeout=300, env={**__import__("os").environ, "FACETRUST_HOME": str(tmp_path)})
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert done.returncode != 0 and len(lines) == 1 and lines[0].startswith("error:"), done.stderr
