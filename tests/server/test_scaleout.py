"""Several `facetrust serve` instances over one PostgreSQL + pgvector database (``database_url``):
galleries (encrypted ones too), API keys and rate limits are shared; a mismatching recognizer and
an unreachable or lost database fail clearly. Real uvicorn processes on loopback ports, real PostgreSQL (pgserver),
the default models on real photos."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from itertools import count
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from pgkit import new_pgdata, start_postgres
from serverkit import (
    EXAMPLES, ROOT, Server, assert_error, database_env, enrol, free_port, launch_server, search, shared_key,
    start_instances, upload, wait_ready,
)

from facetrust.gallery import Gallery
from facetrust.privacy import ProtectionKey, save_key

KNN = EXAMPLES / "knn_examples"
_schemas = count()


class Postgres:
    """The module's PostgreSQL, which a test may stop and start again (same data, same socket)."""

    def __init__(self) -> None:
        # Not under pytest's tmp folder: as root, pgserver runs PostgreSQL as its own user (see tests/gallery).
        self.pgdata = new_pgdata("facetrust-scaleout-pg-")
        self.server = start_postgres(self.pgdata)
        self.url = str(self.server.get_uri())

    def stop(self) -> None:
        self.server.cleanup()

    def start(self) -> None:
        self.server = start_postgres(self.pgdata)


@pytest.fixture(scope="module")
def postgres(shared: Path) -> Iterator[Postgres]:
    running = Postgres()
    yield running
    running.stop()
    shutil.rmtree(running.pgdata, ignore_errors=True)


@pytest.fixture(scope="module")
def pair(postgres: Postgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Server]]:
    """Two instances over one database; one reports folder for both (as a shared mount would be)."""
    reports = tmp_path_factory.mktemp("shared-reports")
    env = database_env(postgres.url, f"pair{next(_schemas)}", reports_dir=str(reports))
    servers = start_instances(tmp_path_factory.mktemp("pair"), env)
    yield servers
    for server in servers:
        server.stop()


def test_enrolment_and_erasure_on_one_instance_are_seen_at_once_by_the_other(pair):
    a, b = pair
    assert a.post("/v1/galleries", json={"name": "staff"}).status_code == 201
    assert_error(b.post("/v1/galleries", json={"name": "staff"}), 409, "already_exists")
    assert [g["name"] for g in b.get("/v1/galleries").json()["galleries"]] == ["staff"]
    assert enrol(a, "staff", "biden", KNN / "train/biden/biden.jpg").status_code == 201
    assert search(b, "staff", KNN / "test/obama1.jpg")["identity"] is None  # not enrolled yet

    assert enrol(a, "staff", "obama", KNN / "train/obama/obama.jpg").status_code == 201
    found = search(b, "staff", KNN / "test/obama1.jpg")  # the very next request, on the other instance
    assert found["identity"] == "obama" and found["matches"][0]["score"] > found["threshold"]
    assert b.get("/v1/galleries/staff/identities/obama").json()["templates"][0]["source"] == "obama.jpg"
    # Templates added on B count in searches on A.
    added = b.post("/v1/galleries/staff/identities/obama/templates",
                   files=[("images", ("obama2.jpg", (KNN / "train/obama/obama2.jpg").read_bytes()))])
    assert added.status_code == 201
    assert a.get("/v1/galleries/staff").json()["templates"] == 3

    assert a.delete("/v1/galleries/staff/identities/obama").json() == {"removed": "obama"}
    gone = search(b, "staff", KNN / "test/obama1.jpg")
    assert gone["identity"] is None and all(m["id"] != "obama" for m in gone["matches"])
    assert_error(b.get("/v1/galleries/staff/identities/obama"), 404, "not_found")
    assert b.get("/v1/galleries/staff").json()["identities"] == 1


@pytest.fixture(scope="module")
def encrypted_pair(postgres: Postgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Server]]:
    """Two instances with ``encrypt_galleries`` and one key file, over the module's database."""
    tmp = tmp_path_factory.mktemp("encrypted-pair")
    key_file = save_key(ProtectionKey.generate(), tmp / "gallery.key")
    env = database_env(postgres.url, f"sealed{next(_schemas)}", encrypt_galleries="1",
                       encryption_key_file=str(key_file))
    servers = start_instances(tmp, env)
    yield servers
    for server in servers:
        server.stop()


def test_encrypted_galleries_are_shared_by_instances_with_the_key(encrypted_pair, postgres):
    import psycopg

    a, b = encrypted_pair
    assert a.post("/v1/galleries", json={"name": "sealed"}).status_code == 201
    assert enrol(a, "sealed", "biden", KNN / "train/biden/biden.jpg").status_code == 201
    assert search(b, "sealed", KNN / "test/obama1.jpg")["identity"] is None  # B's memory index now holds biden
    assert enrol(a, "sealed", "obama", KNN / "train/obama/obama.jpg").status_code == 201
    assert search(b, "sealed", KNN / "test/obama1.jpg")["identity"] == "obama"  # refreshed at the next search
    added = b.post("/v1/galleries/sealed/identities/obama/templates",
                   files=[("images", ("obama2.jpg", (KNN / "train/obama/obama2.jpg").read_bytes()))])
    assert added.status_code == 201
    stats = a.get("/v1/galleries/sealed").json()
    assert stats["templates"] == 3 and stats["stats"]["encryption"]["cipher"] == "AES-256-GCM"

    # At rest: ciphertext in a bytea column, no stored vector's bytes in it.
    schema = a.env["FACETRUST_SERVER_DATABASE_SCHEMA"]
    with psycopg.connect(postgres.url) as conn:
        (gallery_schema,) = conn.execute(f"SELECT schema_name FROM {schema}.galleries WHERE name = 'sealed'").fetchone()
        (column_type,) = conn.execute("SELECT data_type FROM information_schema.columns WHERE table_schema = %s "
                                      "AND table_name = 'templates' AND column_name = 'vector'",
                                      (gallery_schema,)).fetchone()
        stored = b"".join(bytes(r[0]) for r in conn.execute(f"SELECT vector FROM {gallery_schema}.templates"))
    assert column_type == "bytea"
    with Gallery.open(postgres.url, schema=gallery_schema,
                      encryption_key=a.env["FACETRUST_SERVER_ENCRYPTION_KEY_FILE"]) as gallery:
        vectors = [v for _, v in gallery.backend.iter_export()]
    assert sum(len(v) for v in vectors) == 3
    for v in vectors:
        plain = np.asarray(v, dtype="<f4").tobytes()
        assert plain[:16] not in stored and plain[512:528] not in stored

    assert a.delete("/v1/galleries/sealed/identities/obama").json() == {"removed": "obama"}
    gone = search(b, "sealed", KNN / "test/obama1.jpg")
    assert gone["identity"] is None and all(m["id"] != "obama" for m in gone["matches"])
    assert b.get("/v1/galleries/sealed").json()["templates"] == 1


def test_an_instance_with_another_gallery_key_cannot_read_encrypted_galleries(encrypted_pair, tmp_path):
    a, _ = encrypted_pair
    other_key = save_key(ProtectionKey.generate(), tmp_path / "other.key")
    env = {**a.env, "FACETRUST_SERVER_ENCRYPTION_KEY_FILE": str(other_key)}
    other = wait_ready(launch_server(tmp_path / "c", env=env, key=a.key))
    try:
        body = assert_error(other.get("/v1/galleries/sealed"), 503, "key_unavailable")
        assert "is encrypted with key" in body["error"]["message"]
        assert a.get("/v1/galleries/sealed").status_code == 200  # the others are not affected
    finally:
        other.stop()


def test_compreface_subjects_without_examples_are_shared(pair):
    a, b = pair
    assert a.post("/api/v1/recognition/subjects", json={"subject": "newcomer"}).status_code == 200
    assert "newcomer" in b.get("/api/v1/recognition/subjects").json()["subjects"]
    assert b.delete("/api/v1/recognition/subjects/newcomer").status_code == 200
    assert "newcomer" not in a.get("/api/v1/recognition/subjects").json()["subjects"]


def test_a_key_made_with_one_instance_works_on_the_other_and_revocation_reaches_both(pair, tmp_path):
    a, b = pair
    home = tmp_path / "cli"
    key = shared_key(a.env, home, "--name", "app", "--gallery", "staff")
    assert b.get("/v1/galleries", key=key).status_code == 200
    assert_error(b.post("/v1/galleries", key=key, json={"name": "other"}), 403, "forbidden")
    done = subprocess.run([sys.executable, "-m", "facetrust.cli.main", "keys", "revoke", key[3:11]],
                          env={**os.environ, "FACETRUST_HOME": str(home), **a.env}, capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    for server in pair:
        assert_error(server.get("/v1/galleries", key=key), 401, "unauthorized")


def test_a_key_rate_limit_holds_across_instances(pair, tmp_path):
    a, b = pair
    key = shared_key(a.env, tmp_path, "--rate-limit", "3")  # a bucket of 3, refilled at one per 20 s
    answers = [server.get("/v1/galleries", key=key) for server in (a, b, a, b)]
    assert [r.status_code for r in answers[:3]] == [200, 200, 200]
    assert_error(answers[3], 429, "rate_limited")
    assert int(answers[3].headers["Retry-After"]) >= 1
    assert b.get("/v1/galleries").status_code == 200  # other keys have their own buckets


def test_a_report_in_the_shared_reports_folder_is_served_by_every_instance(pair, shared, tmp_path):
    a, b = pair
    lines = (shared / "data" / "lfw_pairs.txt").read_text().splitlines()[1:]
    rows = ["path_a,path_b,same"] + [f"{n}/{n}_{int(i):04d}.jpg,{n}/{n}_{int(j):04d}.jpg,1"
                                     for n, i, j in (line.split() for line in lines[:3])]
    rows += [f"{x}/{x}_{int(i):04d}.jpg,{y}/{y}_{int(j):04d}.jpg,0"
             for x, i, y, j in (line.split() for line in lines[300:303])]
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("\n".join(rows) + "\n")
    folder = Path(a.env["FACETRUST_SERVER_REPORTS_DIR"]) / "lfw-three"
    done = subprocess.run([sys.executable, "-m", "facetrust.cli.main", "eval", "pairs", "--csv", str(pairs),
                           "--root", str(shared / "data" / "lfw"), "--workers", "1", "--report", str(folder)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    expected = json.loads((folder / "report.json").read_text())
    for server in pair:  # written after both started: each reads the folder at the request
        assert [r["name"] for r in server.get("/v1/reports").json()["reports"]] == ["lfw-three"]
        report = server.get("/v1/reports/lfw-three").json()
        assert report["metrics"] == expected["metrics"] and report["plots"]
        plot = server.get(report["plots"][0]["url"])
        assert plot.status_code == 200 and plot.content == (folder / report["plots"][0]["file"]).read_bytes()


def serve_once(env: dict[str, str], home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "facetrust.cli.main", "serve", "--port", str(free_port()), *args],
                          env={**os.environ, "FACETRUST_HOME": str(home), **env}, capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_an_instance_with_another_recognizer_refuses_to_start(pair, tmp_path):
    done = serve_once(pair[0].env, tmp_path, "--preset", "dlib")
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "edgeface-xs" in lines[0] and "dlib-resnet" in lines[0] and "--preset balanced" in lines[0]


def test_an_unreachable_database_is_retried_then_reported_in_one_line(tmp_path):
    url = f"postgresql://facetrust@127.0.0.1:{free_port()}/facetrust"  # nothing listens there
    done = serve_once(database_env(url, "x", database_connect_timeout_s="1.5"), tmp_path)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("error: cannot connect to postgresql://facetrust@127.0.0.1:") and "in 1.5 s" in lines[0]
    attempts = int(lines[0].split("(tried ")[1].split(" ")[0])
    assert attempts > 1  # it retried with backoff before giving up


def test_a_lost_database_gives_json_503_and_the_instances_recover(pair, postgres):
    a, b = pair
    assert a.post("/v1/galleries", json={"name": "outage"}).status_code == 201
    assert enrol(a, "outage", "obama", KNN / "train/obama/obama.jpg").status_code == 201

    postgres.stop()  # the database goes away under the running instances
    try:
        for answer in (a.get("/v1/galleries"),
                       b.post("/v1/galleries/outage/search", files=upload(KNN / "test/obama1.jpg"))):
            body = assert_error(answer, 503, "database_unavailable")
            assert body["error"]["message"] == "the database is unreachable; retry shortly"
            assert answer.headers["Retry-After"] == "1"
        assert a.get("/health").status_code == 200 and b.get("/health").status_code == 200  # both stay up
    finally:
        postgres.start()  # back on the same socket: the next requests reconnect
    for server in pair:
        assert search(server, "outage", KNN / "test/obama1.jpg")["identity"] == "obama"
