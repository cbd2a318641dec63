"""``facetrust batch run`` and ``facetrust gallery import-parquet`` through the real CLI: a job on the
test cluster via --address, one-line errors (unreachable cluster, another configuration, bad
options), Ctrl-C keeping finished partitions, and a CLI start-up that never imports Ray."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from facetrust.cli.main import app

runner = CliRunner()


def cli(*args: object, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "facetrust.cli.main", *map(str, args)], capture_output=True,
                          text=True, env=os.environ.copy(), timeout=timeout)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def cli_job(ray_cluster: str, batch_images: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "out"
    done = cli("batch", "run", batch_images, "--out", out, "--address", ray_cluster, "--workers", 2,
               "--partition-size", 4, "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["inputs"] == 10 and summary["failed"] == 2 and summary["computed_partitions"] == 3
    assert summary["workers"] == 2
    return out


def test_cli_job_writes_partitions_on_the_cluster(cli_job: Path) -> None:
    import pyarrow.parquet as pq

    assert sorted(p.name for p in cli_job.glob("part-*.parquet")) == [f"part-{i:06d}.parquet" for i in range(3)]
    rows = pq.read_table(cli_job).to_pylist()
    assert {r["error_type"] for r in rows if r["error"]} == {"ImageDecodeError"}
    assert all(len(r["embedding"]) == 512 for r in rows if r["face_index"] is not None)


def test_another_configuration_is_one_line(cli_job: Path, batch_images: Path) -> None:
    done = cli("batch", "run", batch_images, "--out", cli_job, "--recognizer", "edgeface-xxs", "--partition-size", 4)
    assert done.returncode == 1
    [line] = error_lines(done.stderr)
    assert line.startswith(f"error: {cli_job} holds results of another job (") and "edgeface-xxs" in line


def test_unreachable_cluster_is_one_line_after_retries(batch_images: Path, tmp_path: Path) -> None:
    start = time.monotonic()
    done = cli("batch", "run", batch_images, "--out", tmp_path / "out", "--address", "127.0.0.1:1")
    assert done.returncode == 1 and time.monotonic() - start < 60
    [line] = error_lines(done.stderr)
    assert line.startswith("error: no Ray cluster answers at 127.0.0.1:1 (") and "4 attempts" in line
    assert not list((tmp_path / "out").glob("part-*"))


@pytest.mark.parametrize(("args", "message"), [
    (("--address", "head:port"), "--address 'head:port' must look like HOST:PORT"),
    (("--preset", "nope"), "unknown preset 'nope'"),
    (("--check", "nope"), "nope"),
])
def test_bad_options_are_one_line(batch_images: Path, tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = runner.invoke(app, ["batch", "run", str(batch_images), "--out", str(tmp_path / "out"), *args])
    assert result.exit_code == 1
    [line] = error_lines(result.output)
    assert line.startswith("error: ") and message in line


def test_interrupt_keeps_finished_partitions(ray_cluster: str, shared: Path, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    images = sorted((shared / "data" / "lfw").glob("A*/*.jpg"))[:40]
    manifest = tmp_path / "m.csv"
    manifest.write_text("path\n" + "\n".join(map(str, images)) + "\n")
    out = tmp_path / "out"
    args = [sys.executable, "-m", "facetrust.cli.main", "batch", "run", str(manifest), "--out", str(out),
            "--address", ray_cluster, "--workers", "1", "--partition-size", "1"]
    job = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    deadline = time.monotonic() + 300
    while not list(out.glob("part-*.parquet")) and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    job.send_signal(signal.SIGINT)
    stdout, stderr = job.communicate(timeout=120)
    assert job.returncode == 130, stderr
    assert error_lines(stderr)[-1] == f"interrupted: finished partitions stay in {out}; rerun the same command to resume"
    finished = sorted(out.glob("part-*.parquet"))
    assert 1 <= len(finished) < len(images) and not list(out.glob(".part-*"))
    for part in finished:
        assert pq.read_table(part).num_rows == 1
    resumed = cli(*args[3:], "--json")
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["skipped_partitions"] == len(finished) and summary["computed_partitions"] == len(images) - len(finished)


def test_import_parquet_cli(cli_job: Path, batch_images: Path, tmp_path: Path) -> None:
    gallery = str(tmp_path / "g.db")
    assert runner.invoke(app, ["gallery", "create", gallery]).exit_code == 0
    result = runner.invoke(app, ["gallery", "import-parquet", gallery, str(cli_job), "--identity-from", "parent"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == (
        f"enrolled 3 identities with 7 templates into {gallery}, 0 already enrolled; "
        "inputs left out: 2 failed, 1 several faces")
    found = runner.invoke(app, ["gallery", "search", gallery, str(batch_images / "Aaron_Peirsol"), "--json"])
    assert found.exit_code == 0
    assert {r["results"][0]["identity"] for r in json.loads(found.stdout)} == {"Aaron_Peirsol"}


@pytest.mark.parametrize(("args", "message"), [
    ((), "name the identity"),
    (("--identity-from", "parent", "--identity-column", "person"), "name the identity"),
    (("--identity-column", "person"), "no column 'person'"),
    (("--identity-from", "grandparent"), "identity from must be 'parent'"),
])
def test_import_parquet_bad_options_are_one_line(cli_job: Path, tmp_path: Path, args: tuple[str, ...],
                                                 message: str) -> None:
    gallery = str(tmp_path / "g.db")
    runner.invoke(app, ["gallery", "create", gallery])
    result = runner.invoke(app, ["gallery", "import-parquet", gallery, str(cli_job), *args])
    assert result.exit_code == 1
    [line] = error_lines(result.output)
    assert line.startswith("error: ") and message in line


def test_import_parquet_from_a_file_or_a_foreign_folder_is_one_line(tmp_path: Path) -> None:
    gallery = str(tmp_path / "g.db")
    runner.invoke(app, ["gallery", "create", gallery])
    stray = tmp_path / "faces.parquet"
    stray.write_bytes(b"not parquet")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "part-000000.parquet").write_bytes(b"not parquet")
    for source, message in ((stray, "not a folder"), (foreign, "not a batch output folder")):
        result = runner.invoke(app, ["gallery", "import-parquet", gallery, str(source), "--identity-from", "parent"])
        assert result.exit_code == 1
        [line] = error_lines(result.output)
        assert line.startswith(f"error: {source}: {message}")


def test_import_parquet_refuses_another_recognizer(cli_job: Path, tmp_path: Path) -> None:
    gallery = str(tmp_path / "g.db")
    runner.invoke(app, ["gallery", "create", gallery, "--preset", "dlib"])
    result = runner.invoke(app, ["gallery", "import-parquet", gallery, str(cli_job), "--identity-from", "parent"])
    assert result.exit_code == 1
    [line] = error_lines(result.output)
    assert line.startswith(f"error: the embeddings in {cli_job} come from edgeface-xs") and "dlib-resnet" in line


def test_cli_start_up_does_not_import_ray() -> None:
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import facetrust.cli.main"],
                          capture_output=True, text=True, env=os.environ.copy(), timeout=120)
    assert done.returncode == 0
    modules = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in done.stderr.splitlines() if "|" in line}
    assert "facetrust" in modules and not modules & {"ray", "pyarrow"}
