"""Hosts for the multi-host server tests: Linux network namespaces, each with its own network stack
and address on one bridge, as separate machines on a LAN would be (``ip`` from iproute2, as root).
The tests' own process stays in the root namespace and reaches every host through the bridge.

Where namespaces cannot be made (not root, no iproute2, a sandbox without CAP_NET_ADMIN) the
caller's test skips with the reason: the same instances are also tested on one host
(test_scaleout.py)."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from pgkit import new_pgdata, start_postgres


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise OSError(f"ip {' '.join(args)}: {done.stderr.strip()}")


class Hosts:
    """Network namespaces ``names`` on a new bridge: host i gets 10.213.<net>.<i+1>/24, the bridge (the
    tests' side) .254. Delete with :meth:`remove`."""

    def __init__(self, names: list[str]) -> None:
        self.net = 20 + os.getpid() % 200  # distinct for concurrent test runs on one machine
        self.tag = f"ft{self.net}"
        self.bridge = f"{self.tag}br"
        self.addresses = {name: f"10.213.{self.net}.{i + 1}" for i, name in enumerate(names)}
        self.namespaces: list[str] = []
        try:
            _ip("link", "add", self.bridge, "type", "bridge")
            _ip("addr", "add", f"10.213.{self.net}.254/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
            for name, address in self.addresses.items():
                namespace = self.namespace(name)
                _ip("netns", "add", namespace)
                self.namespaces.append(namespace)
                _ip("link", "add", namespace, "type", "veth", "peer", "name", "eth0", "netns", namespace)
                _ip("link", "set", namespace, "master", self.bridge, "up")
                _ip("-n", namespace, "addr", "add", f"{address}/24", "dev", "eth0")
                _ip("-n", namespace, "link", "set", "eth0", "up")
                _ip("-n", namespace, "link", "set", "lo", "up")
        except BaseException:
            self.remove()
            raise

    def namespace(self, name: str) -> str:
        return f"{self.tag}{name}"

    def prefix(self, name: str) -> list[str]:
        """The command prefix that runs a program on host ``name``."""
        return ["ip", "netns", "exec", self.namespace(name)]

    def cut(self, name: str, other: str) -> None:
        """Drop, silently, every packet host ``name`` sends to host ``other`` (a partition: no refusal,
        no reset, as when a switch or a firewall in between loses the traffic)."""
        _ip("-n", self.namespace(name), "route", "add", "blackhole", f"{self.addresses[other]}/32")

    def heal(self, name: str, other: str) -> None:
        _ip("-n", self.namespace(name), "route", "del", "blackhole", f"{self.addresses[other]}/32")

    def remove(self) -> None:
        for namespace in self.namespaces:  # deleting a namespace deletes its veth pair
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=30)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True, timeout=30)


def make_hosts(names: list[str]) -> Hosts:
    if shutil.which("ip") is None:
        pytest.skip("iproute2's ip is not installed: the multi-host tests need network namespaces")
    try:
        return Hosts(names)
    except OSError as exc:
        pytest.skip(f"cannot make network namespaces here ({exc})")


class RemotePostgres:
    """PostgreSQL with pgvector serving TCP on host ``name`` only (pgserver's binaries and data folder,
    started inside that host's namespace)."""

    def __init__(self, hosts: Hosts, name: str) -> None:
        from pgserver._commands import POSTGRES_BIN_PATH

        self.pgdata = new_pgdata("facetrust-hosts-pg-")
        start_postgres(self.pgdata).cleanup()  # initdb, pgvector, then stopped: it restarts on the host
        self.address = hosts.addresses[name]
        with open(self.pgdata / "pg_hba.conf", "a") as hba:
            hba.write(f"host all all 10.213.{hosts.net}.0/24 trust\n")
        self.socket_dir = Path(tempfile.mkdtemp(prefix="facetrust-hosts-sock-"))
        self.socket_dir.chmod(0o777)
        self.user = "pgserver" if os.geteuid() == 0 else None  # PostgreSQL refuses to run as root
        as_user = ["runuser", "-u", self.user, "--"] if self.user else []
        self._pg_ctl = [*hosts.prefix(name), *as_user, str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.pgdata)]
        subprocess.run([*self._pg_ctl, "-w", "-l", str(self.pgdata / "log"),
                        "-o", f"-h {self.address} -p 5432 -k {self.socket_dir}", "start"],
                       check=True, capture_output=True, timeout=60)
        self.url = f"postgresql://postgres@{self.address}:5432/postgres"

    def stop(self) -> None:
        subprocess.run([*self._pg_ctl, "-w", "-m", "fast", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.pgdata, ignore_errors=True)
        shutil.rmtree(self.socket_dir, ignore_errors=True)
