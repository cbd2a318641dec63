"""Batch fixtures: real images (LFW, the face_recognition examples) with a corrupt file and a
non-image, and one local two-node Ray cluster (1 CPU each) for the whole session: Ray starts
slowly, so every test that needs a cluster shares this one."""
from __future__ import annotations

import os
import shutil
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
def ray_cluster() -> Iterator[str]:
    """The address of a running two-node Ray cluster; this process is connected to it."""
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
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


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
