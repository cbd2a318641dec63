"""Two `facetrust serve` instances on two hosts and PostgreSQL on a third (network namespaces on one
bridge, tests/server/hostkit.py): everything the instances share goes over TCP between hosts, and a
partition between an instance and the database (packets dropped, not refused) is answered with a
JSON 503 within a bounded time while the other instance keeps serving. Real uvicorn processes,
real PostgreSQL, the default models on real photos."""
from __future__ import annotations

import time
from typing import Iterator

import pytest
from hostkit import Hosts, RemotePostgres, make_hosts
from serverkit import (
    EXAMPLES, Server, assert_error, database_env, enrol, search, shared_key, start_instances, upload,
)

KNN = EXAMPLES / "knn_examples"


@pytest.fixture(scope="module")
def hosts(shared) -> Iterator[Hosts]:
    made = make_hosts(["db", "a", "b"])
    yield made
    made.remove()


@pytest.fixture(scope="module")
def database(hosts: Hosts) -> Iterator[RemotePostgres]:
    server = RemotePostgres(hosts, "db")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def instances(hosts: Hosts, database: RemotePostgres, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[list[Server]]:
    env = database_env(database.url, "hosts", database_connect_timeout_s="10")
    servers = start_instances(tmp_path_factory.mktemp("hosts"), env,
                              {name: {"host": hosts.addresses[name], "prefix": hosts.prefix(name)} for name in "ab"})
    yield servers
    for server in servers:
        server.stop()


def test_instances_on_two_hosts_share_the_gallery_keys_and_limits_of_a_third(instances):
    a, b = instances
    assert a.url.split(":")[1] != b.url.split(":")[1]  # two addresses, two network stacks
    assert a.post("/v1/galleries", json={"name": "lan"}).status_code == 201
    assert enrol(a, "lan", "obama", KNN / "train/obama/obama.jpg").status_code == 201
    assert search(b, "lan", KNN / "test/obama1.jpg")["identity"] == "obama"
    assert b.delete("/v1/galleries/lan/identities/obama").json() == {"removed": "obama"}
    assert search(a, "lan", KNN / "test/obama1.jpg")["identity"] is None

    limited = shared_key(a.env, a.home.parent / "admin", "--rate-limit", "3")
    answers = [server.get("/v1/galleries", key=limited) for server in (a, b, a, b)]
    assert [r.status_code for r in answers[:3]] == [200, 200, 200]
    assert_error(answers[3], 429, "rate_limited")


def test_a_partition_from_the_database_is_a_bounded_503_and_heals(instances, hosts):
    a, b = instances
    assert a.post("/v1/galleries", json={"name": "split"}).status_code == 201
    assert enrol(b, "split", "obama", KNN / "train/obama/obama.jpg").status_code == 201
    assert search(a, "split", KNN / "test/obama1.jpg")["identity"] == "obama"  # A's connections are open

    hosts.cut("a", "db")  # A's packets to the database are lost from now on; nothing answers "refused"
    try:
        started = time.monotonic()
        answer = a.post("/v1/galleries/split/search", files=upload(KNN / "test/obama1.jpg"))
        waited = time.monotonic() - started
        assert_error(answer, 503, "database_unavailable")
        assert waited < 60, f"a partitioned instance answered only after {waited:.0f} s"
        assert a.get("/health").status_code == 200  # the instance itself stays up
        assert search(b, "split", KNN / "test/obama1.jpg")["identity"] == "obama"  # B is not partitioned
    finally:
        hosts.heal("a", "db")
    assert search(a, "split", KNN / "test/obama1.jpg")["identity"] == "obama"  # reconnects once healed
