"""Faults do not take the server down: timeouts (504), a full pool (503), oversized (413) and
slow (408) uploads, clients that vanish mid-upload, rate-limit bursts (429), a killed worker.

``tight_server`` has one worker, no waiting queue, a 0.05 s inference timeout, a 1.5 s upload
timeout, a 300 kB upload limit and a burst of 8 requests per key.
"""
from __future__ import annotations

import io
import os
import signal
import socket
import time
from pathlib import Path

import requests
from PIL import Image
from serverkit import EXAMPLES, assert_error, wait_for_key

from facetrust.server.keys import KeyStore


def fresh_key(server) -> str:
    """A key of its own, so that each test has a full rate-limit bucket."""
    _, secret = KeyStore(server.home / "keys.json").create("fault test")
    wait_for_key(server, secret)
    return secret


def wait_idle(server, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while requests.get(server.url + "/health", timeout=10).json()["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.1)


def assert_alive(server, key: str) -> None:
    assert requests.get(server.url + "/health", timeout=10).json()["status"] == "ok"
    assert server.get("/v1/galleries", key=key).status_code == 200


def big_photo() -> bytes:
    """A real photo enlarged to 2600 px (about 1 s of detection), small enough as JPEG for the upload limit."""
    with Image.open(EXAMPLES / "obama-1080p.jpg") as image:
        large = image.convert("RGB").resize((2600, round(2600 * image.height / image.width)))
    buffer = io.BytesIO()
    large.save(buffer, format="JPEG", quality=35)
    assert len(buffer.getvalue()) < 300_000
    return buffer.getvalue()


def raw_request(server, key: str, declared_length: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall((f"POST /v1/detect HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: {key}\r\n"
                  f"Content-Type: application/octet-stream\r\nContent-Length: {declared_length}\r\n\r\n").encode())
    return sock


def test_timeout_then_busy_then_recovery(tight_server):
    key = fresh_key(tight_server)
    photo = big_photo()
    assert_error(tight_server.post("/v1/detect", key=key, files={"image": ("big.jpg", photo)}), 504, "timeout")
    # The timed-out inference still occupies the only worker (it takes about a second):
    # the next request is refused at once instead of queueing.
    assert requests.get(tight_server.url + "/health", timeout=10).json()["in_flight"] == 1
    busy = tight_server.post("/v1/detect", key=key, files={"image": ("big.jpg", photo)})
    assert_error(busy, 503, "busy")
    assert busy.headers["retry-after"] == "1"
    wait_idle(tight_server)
    assert_alive(tight_server, key)


def test_upload_over_the_limit_is_413(tight_server):
    key = fresh_key(tight_server)
    response = tight_server.post("/v1/detect", key=key, files={"image": ("x.jpg", os.urandom(400_000))})
    assert_error(response, 413, "upload_too_large")
    assert_alive(tight_server, key)


def test_client_disconnecting_mid_upload(tight_server):
    key = fresh_key(tight_server)
    for _ in range(5):
        sock = raw_request(tight_server, key, 250_000)
        sock.sendall(os.urandom(20_000))
        sock.close()
    assert_alive(tight_server, key)


def test_slow_client_gets_408_and_does_not_block_others(tight_server):
    key = fresh_key(tight_server)
    sock = raw_request(tight_server, key, 100_000)
    started = time.monotonic()
    answer = b""
    while time.monotonic() - started < 10:
        try:
            sock.sendall(b"x" * 100)  # 100 bytes every 0.3 s: far too slow for 100 kB in 1.5 s
        except OSError:
            break
        # Other clients are served while this one trickles.
        assert requests.get(tight_server.url + "/health", timeout=5).status_code == 200
        sock.settimeout(0.3)
        try:
            answer += sock.recv(65536)
        except socket.timeout:
            continue
        if b"\r\n\r\n" in answer:
            break
    sock.settimeout(2)
    try:
        while b"upload_timeout" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    except OSError:
        pass
    sock.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b'"upload_timeout"' in answer
    assert_alive(tight_server, key)


def test_rate_limit_burst_gets_429(tight_server):
    key = fresh_key(tight_server)  # used once by wait_for_key
    statuses = []
    for _ in range(14):
        response = tight_server.get("/v1/galleries", key=key)
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert_error(response, 429, "rate_limited")
            assert int(response.headers["retry-after"]) >= 1
    # Burst of 8 per key (one spent above), refilled at 1 per second.
    assert 7 <= statuses.count(200) <= 9 and statuses.count(429) >= 5, statuses
    assert statuses[:7] == [200] * 7
    other = fresh_key(tight_server)  # limits are per key: another key is unaffected
    assert_alive(tight_server, other)


def _descendants(pid: int) -> list[int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [], [pid]
    while frontier:
        children = [p for p, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _workers(server_pid: int) -> list[int]:
    """Inference workers: the processes forked by the multiprocessing fork server."""
    def cmdline(pid: int) -> str:
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            return ""

    servers = [p for p in _descendants(server_pid) if "forkserver" in cmdline(p)]
    return [p for s in servers for p in _descendants(s)]


def test_killed_worker_is_replaced(tight_server):
    key = fresh_key(tight_server)
    wait_idle(tight_server)
    workers = _workers(tight_server.process.pid)
    assert len(workers) == 1, workers
    os.kill(workers[0], signal.SIGKILL)
    statuses = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        response = tight_server.post("/v1/detect", key=key, files={"image": ("o.jpg", (EXAMPLES / "obama.jpg").read_bytes())})
        statuses.append(response.status_code)
        assert response.status_code in (503, 504), response.text
        if response.status_code == 504:  # a timeout means a live worker took the job: the pool is back
            break
        time.sleep(0.5)
    assert statuses[0] == 503 and statuses[-1] == 504, statuses
    wait_idle(tight_server)
    new_workers = _workers(tight_server.process.pid)
    assert len(new_workers) == 1 and new_workers != workers
    assert_alive(tight_server, key)
