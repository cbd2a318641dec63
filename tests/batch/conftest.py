"""Batch fixtures: real images (LFW, the face_recognition examples) with a corrupt file and a
non-image, an S3-compatible object store (moto's server), and one local two-node Ray cluster
(1 CPU each) for the whole session: Ray starts slowly, so every test that needs a cluster shares this one."""
from __future__ import annotations

import logging
import os
import shutil
import socket
from pathlib import Path
from typing import Iterator

import pytest
from pgkit import new_pgdata, start_postgres

LFW_PEOPLE = {"Aaron_Peirsol": 3, "Abdullah": 3}
EXAMPLES = "faces/ageitgey_face_recognition/examples"


@pytest.fixture(scope="session")
def batch_images(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """person/<image> folders (identity = folder name), a two-face photo, a truncated JPEG and a text file."""
    root = tmp_path_factory.mktemp("batch_images")
    for person, count in LFW_PEOPLE.items():
        (root / person).mkdir()
        for path in sorted((shared / "data" / "lfw" / person).glob("*.jpg"))[:count]:
            shutil.copy(path, root / person / path.name)
    (root / "Barack_Obama").mkdir()
    shutil.copy(shared / "data" / EXAMPLES / "obama.jpg", root / "Barack_Obama" / "obama.jpg")
    (root / "group").mkdir()
    shutil.copy(shared / "data" / EXAMPLES / "two_people.jpg", root / "group" / "two_people.jpg")
    (root / "bad").mkdir()
    whole = (shared / "data" / EXAMPLES / "biden.jpg").read_bytes()
    (root / "bad" / "truncated.jpg").write_bytes(whole[: len(whole) // 40])
    (root / "bad" / "notes.png").write_text("not an image\n")
    return root


@pytest.fixture(scope="session")
def object_store() -> Iterator[str | None]:
    """The endpoint of an S3-compatible server (moto's, run in this process), named by the standard
    AWS variables that pyarrow reads and the Ray workers inherit; None where moto is not installed."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        yield None
        return
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log line per request
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "facetrust-tests",
           "AWS_SECRET_ACCESS_KEY": "facetrust-tests", "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield env["AWS_ENDPOINT_URL"]
    finally:
        server.stop()
        restore_environment(saved)


def restore_environment(saved: dict[str, str | None]) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def ray_cluster(object_store: str | None) -> Iterator[str]:
    """The address of a running two-node Ray cluster; this process is connected to it. Its workers
    see the object store through the environment they inherit."""
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[test]'")
    from ray.cluster_utils import Cluster

    # The workers (and CLI subprocesses) import the test's check plugins, tests/batch/faulty_checks.py.
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).parent), saved]))
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False)
        yield cluster.address
    finally:
        ray.shutdown()
        cluster.shutdown()
        restore_environment({"PYTHONPATH": saved})


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A real PostgreSQL 16 with pgvector (the ``pgserver`` package), as in tests/gallery."""
    pgdata = new_pgdata("facetrust-batch-pgdata-")
    server = start_postgres(pgdata)
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()
        shutil.rmtree(pgdata, ignore_errors=True)
