"""Helpers of the server tests: photos, and ``facetrust serve`` run in a subprocess on a free
loopback port, its FACETRUST_HOME holding an API key made by the KeyStore."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
FACES = Path(os.environ.get("FACETRUST_SHARED", ROOT.parent / "shared")) / "data/faces/ageitgey_face_recognition"
EXAMPLES = FACES / "examples"
TEST_IMAGES = FACES / "tests" / "test_images"
STARTUP_TIMEOUT_S = 180


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    port: int
    home: Path
    key: str
    process: subprocess.Popen
    log: Path

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"x-api-key": key or self.key}

    def post(self, path: str, key: str | None = None, headers: dict | None = None, **kwargs):
        return requests.post(self.url + path, headers={**self.headers(key), **(headers or {})}, timeout=120, **kwargs)

    def get(self, path: str, key: str | None = None, headers: dict | None = None, **kwargs):
        return requests.get(self.url + path, headers={**self.headers(key), **(headers or {})}, timeout=120, **kwargs)

    def patch(self, path: str, key: str | None = None, headers: dict | None = None, **kwargs):
        return requests.patch(self.url + path, headers={**self.headers(key), **(headers or {})}, timeout=120, **kwargs)

    def put(self, path: str, key: str | None = None, headers: dict | None = None, **kwargs):
        return requests.put(self.url + path, headers={**self.headers(key), **(headers or {})}, timeout=120, **kwargs)

    def delete(self, path: str, key: str | None = None, headers: dict | None = None, **kwargs):
        return requests.delete(self.url + path, headers={**self.headers(key), **(headers or {})}, timeout=120, **kwargs)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(home: Path, args: list[str] = (), env: dict[str, str] | None = None, key: str | None = None
                 ) -> Server:
    """Start ``facetrust serve`` and wait for /health; ``key`` (default: the first key of ``home``)
    is the server's key."""
    return wait_ready(launch_server(home, args, env, key))


def launch_server(home: Path, args: list[str] = (), env: dict[str, str] | None = None, key: str | None = None,
                  host: str = "127.0.0.1", prefix: list[str] = ()) -> Server:
    """Start ``facetrust serve`` without waiting for it (see :func:`wait_ready`), listening on ``host``;
    ``prefix`` runs it elsewhere (``ip netns exec NS``: on another host, tests/server/hostkit.py)."""
    from facetrust.server.keys import KeyStore

    home.mkdir(parents=True, exist_ok=True)
    if key is None:
        _, key = KeyStore(home / "keys.json").create("tests")
    port = free_port()
    log = home / "server.log"
    environment = {**os.environ, "FACETRUST_HOME": str(home), **(env or {})}
    command = [*prefix, sys.executable, "-m", "facetrust.cli.main", "serve", "--host", host, "--port", str(port),
               "--log-level", "warning", *args]
    with open(log, "wb") as stream:
        process = subprocess.Popen(command, env=environment, stdout=stream, stderr=subprocess.STDOUT,
                                   cwd=ROOT)
    return Server(f"http://{host}:{port}", port, home, key, process, log)


def wait_ready(server: Server) -> Server:
    """``server`` once it answers /health (the test fails if it exits or takes too long)."""
    process = server.process
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}:\n{server.log_tail()}")
        try:
            if requests.get(server.url + "/health", timeout=2).status_code == 200:
                return server
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    server.stop()
    pytest.fail(f"server did not answer /health within {STARTUP_TIMEOUT_S} s:\n{server.log_tail()}")


def upload(path, field: str = "image") -> dict:
    return {field: (path.name, path.read_bytes())}


def assert_error(response: requests.Response, status: int, code: str) -> dict:
    """The stable error shape: exactly {"error": {"code", "message"}}, a one-line message, no traceback."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code, body
    assert "Traceback" not in response.text and "\n" not in body["error"]["message"]
    return body


def wait_for_key(server, secret: str) -> None:
    deadline = time.monotonic() + 5  # the server re-reads the key file within a second
    while server.get("/v1/galleries", key=secret).status_code == 401 and time.monotonic() < deadline:
        time.sleep(0.2)


# -- several instances over one PostgreSQL database (database_url) --------------------------------
def database_env(url: str, schema: str, **settings: str) -> dict[str, str]:
    return {"FACETRUST_SERVER_DATABASE_URL": url, "FACETRUST_SERVER_DATABASE_SCHEMA": schema,
            "FACETRUST_SERVER_WORKERS": "1", **{f"FACETRUST_SERVER_{k.upper()}": v for k, v in settings.items()}}


def shared_key(env: dict[str, str], home: Path, *args: str) -> str:
    """A key made by `facetrust keys create` with an instance's configuration (its database)."""
    done = subprocess.run([sys.executable, "-m", "facetrust.cli.main", "keys", "create", "--json", *args],
                          env={**os.environ, "FACETRUST_HOME": str(home), **env}, capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["key"]


def start_instances(tmp: Path, env: dict[str, str], where: dict[str, dict] | None = None) -> list[Server]:
    """Instances "a" and "b" over one database, started together, each with ``env`` as ``.env``; their key is
    made with that config from the tests' own process. ``where``: per instance, more arguments of
    :func:`launch_server` (``host``, ``prefix``: to run it on another host)."""
    key = shared_key(env, tmp / "admin", "--name", "tests")
    launched = [launch_server(tmp / name, env=env, key=key, **(where or {}).get(name, {})) for name in "ab"]
    try:
        servers = [wait_ready(server) for server in launched]
    except BaseException:
        for server in launched:
            server.stop()
        raise
    for server in servers:
        server.env = env  # type: ignore[attr-defined]
    return servers


def enrol(server: Server, gallery: str, identity: str, *paths: Path):
    return server.post(f"/v1/galleries/{gallery}/identities", data={"id": identity},
                       files=[("images", (p.name, p.read_bytes())) for p in paths])


def search(server: Server, gallery: str, path: Path) -> dict:
    answer = server.post(f"/v1/galleries/{gallery}/search", files=upload(path))
    assert answer.status_code == 200, answer.text
    return answer.json()["results"][0]
