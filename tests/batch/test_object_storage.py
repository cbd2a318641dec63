"""Inputs in object storage: a batch job reads ``s3://`` folders and manifest URIs through pyarrow's
S3FileSystem from a real S3-compatible server (moto's server mode, started by the tests), with
the same results as the local files, bad objects as rows; an endpoint nobody answers at is one
clear error."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from pgkit import unavailable

from facetrust.analyzer import AnalyzerConfig
from facetrust.batch import run_batch
from facetrust.parallel import analyze_paths

BUCKET = "photos"


@pytest.fixture(scope="module")
def bucket(object_store: str | None, batch_images: Path) -> dict[str, Path]:
    """Every test image uploaded under ``s3://photos/archive/<folder>/<file>``: URI -> local file."""
    if object_store is None:
        unavailable("moto is not installed: pip install -e '.[test]'")
    from pyarrow import fs

    endpoint = urlparse(object_store)
    store = fs.S3FileSystem(endpoint_override=endpoint.netloc, scheme=endpoint.scheme, allow_bucket_creation=True)
    store.create_dir(BUCKET)
    uploaded = {}
    for image in sorted(p for p in batch_images.rglob("*.*") if p.parent.parent == batch_images):
        key = f"{BUCKET}/archive/{image.parent.name}/{image.name}"
        with store.open_output_stream(key) as out:
            out.write(image.read_bytes())
        uploaded[f"s3://{key}"] = image
    return uploaded


def test_a_job_reads_s3_folders_and_manifest_uris(ray_cluster: str, bucket: dict[str, Path], tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    manifest = tmp_path / "m.csv"
    listed = [uri for uri in bucket if "/Abdullah/" in uri or "/bad/" in uri]
    manifest.write_text("uri,person\n" + "".join(f"{uri},{bucket[uri].parent.name}\n" for uri in listed)
                        + f"s3://{BUCKET}/archive/Abdullah/missing.jpg,Abdullah\n")
    report = run_batch([f"s3://{BUCKET}/archive/Aaron_Peirsol/", f"s3://{BUCKET}/archive/group", str(manifest)],
                       tmp_path / "out", workers=2, partition_size=3)
    rows = pq.read_table(tmp_path / "out").to_pylist()
    assert report.inputs == 3 + 1 + 3 + 2 + 1 and report.failed == 3 and report.workers == 2
    assert {r["source"] for r in rows} == {u for u in bucket if "/Barack_Obama/" not in u} | {
        f"s3://{BUCKET}/archive/Abdullah/missing.jpg"}
    errors = {r["source"].rsplit("/", 1)[1]: r["error_type"] for r in rows if r["error"]}
    assert errors == {"truncated.jpg": "ImageDecodeError", "notes.png": "ImageDecodeError",
                      "missing.jpg": "ImageNotFoundError"}
    assert all(r["person"] == "Abdullah" for r in rows if "/Abdullah/" in r["source"])
    faces = [r for r in rows if r["face_index"] is not None]
    local = {str(result.path): result for result in analyze_paths(
        sorted({bucket[r["source"]] for r in faces}), AnalyzerConfig())}
    assert len(faces) == sum(len(result.faces) for result in local.values()) == 3 + 3 + 2
    for row in faces:
        face = local[str(bucket[row["source"]])].faces[row["face_index"]]
        assert np.allclose(row["box"], face.box, atol=1e-3)
        assert np.allclose(row["embedding"], face.embedding, atol=1e-5)


def test_an_unreachable_endpoint_is_one_clear_line(bucket: dict[str, Path], tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"  # closed again: nothing listens there
    done = subprocess.run(
        [sys.executable, "-m", "facetrust.cli.main", "batch", "run", f"s3://{BUCKET}/archive/", "--out",
         str(tmp_path / "out")], capture_output=True, text=True, env={**os.environ, "AWS_ENDPOINT_URL": dead},
        timeout=300)
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"error: s3://{BUCKET}/archive/: cannot list (") and "Could not connect" in line
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
