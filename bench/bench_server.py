"""Load and fault test of the REST service on loopback (a script, not a timed test).

It starts ``facetrust serve`` (2 inference workers by default) with a fresh FACETRUST_HOME,
enrols ``--identities`` LFW people into a gallery over HTTP, then:

1. **Load**: ``--clients`` concurrent clients (threads, keep-alive sessions) send
   ``--requests`` requests, alternating ``POST /v1/verify`` (an LFW View-2 pair) and
   ``POST /v1/galleries/bench/search`` (a probe photo of an enrolled person, or of someone
   not enrolled). Reported: requests/s, p50 / p99 latency per endpoint, errors (any
   non-200), rank-1 / open-set correctness of the answers, CPU cores the server used, and
   the resident memory of the server and its workers after every 1,000 requests.
2. **Peer, same run**: the same verify workload through the library directly
   (``FaceAnalyzer.verify`` on the same bytes) in the same number of processes, without
   HTTP: the ratio shows what the service layer costs.
3. **Faults**, while ``--clients`` clients keep loading the server: clients that
   disconnect mid-upload, slow clients trickling their body (they get 408), and a burst of
   requests over a key's rate limit (they get 429). The background load must see no errors
   and /health must answer throughout.

    python bench/bench_server.py                        # 10,000 requests, 8 clients, 2 workers
    python bench/bench_server.py --requests 400 --identities 50    # a quick look

Results go to stdout and to ``bench/results/bench_server.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import LFW_PAIRS, LFW_ROOT, RESULTS, ROOT  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# --------------------------------------------------------------------------- processes


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(parent, []).append(int(entry.name))
    return tree


def process_tree(pid: int) -> list[int]:
    tree, found, frontier = _children(), [pid], [pid]
    while frontier:
        frontier = [c for p in frontier for c in tree.get(p, [])]
        found += frontier
    return found


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError):
            continue
    return total / 2**20


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError):
            continue
    return total / CLK_TCK


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# --------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(home: Path, workers: int) -> tuple[subprocess.Popen, str, str]:
    from facetrust.server.keys import KeyStore

    _, key = KeyStore(home / "keys.json").create("bench")
    port = free_port()
    env = {**os.environ, "FACETRUST_HOME": str(home), "FACETRUST_SERVER_RATE_LIMIT_PER_MINUTE": "0",
           "FACETRUST_SERVER_UPLOAD_TIMEOUT_S": "5"}
    process = subprocess.Popen([sys.executable, "-m", "facetrust.cli.main", "serve", "--port", str(port),
                                "--workers", str(workers), "--log-level", "warning"], env=env, cwd=ROOT,
                               stdout=open(home / "server.log", "wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        if process.poll() is not None:
            sys.exit(f"server exited:\n{(home / 'server.log').read_text()[-3000:]}")
        try:
            if requests.get(url + "/health", timeout=2).ok:
                return process, url, key
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    sys.exit("server did not start")


# --------------------------------------------------------------------------- data


def lfw_pairs() -> list[tuple[Path, Path, bool]]:
    pairs = []
    for line in LFW_PAIRS.read_text().splitlines()[1:]:
        parts = line.split()
        if len(parts) == 3:
            a = b = parts[0]
            i, j = parts[1], parts[2]
        else:
            a, i, b, j = parts
        pairs.append((LFW_ROOT / a / f"{a}_{int(i):04d}.jpg", LFW_ROOT / b / f"{b}_{int(j):04d}.jpg", a == b))
    return pairs


def gallery_people(count: int, seed: int = 0) -> tuple[list[tuple[str, Path, Path]], list[Path]]:
    """``count`` people with 2+ photos (enrol the first, probe with the second), and probes of
    as many people who are not enrolled."""
    rng = random.Random(seed)
    folders = sorted(d for d in LFW_ROOT.iterdir() if d.is_dir())
    several = [d for d in folders if len(list(d.glob("*.jpg"))) >= 2]
    rng.shuffle(several)
    enrolled = [(d.name, *sorted(d.glob("*.jpg"))[:2]) for d in several[:count]]
    strangers = [sorted(d.glob("*.jpg"))[0] for d in several[count:2 * count]]
    return enrolled, strangers


# --------------------------------------------------------------------------- load


class Load:
    """Clients sending verify and search requests until ``total`` are done (or ``stop`` is set)."""

    def __init__(self, url: str, key: str, pairs: list, probes: list, total: int | None,
                 kinds: tuple[str, ...] = ("verify", "search")) -> None:
        self.url, self.key, self.pairs, self.probes, self.total = url, key, pairs, probes, total
        self.kinds = kinds
        self.lock = threading.Lock()
        self.sent = 0
        self.latency: dict[str, list[float]] = {"verify": [], "search": []}
        self.errors: list[str] = []
        self.no_face = 0
        self.correct = {"verify": 0, "search": 0}
        self.stop = threading.Event()
        self.milestones: list[tuple[int, float]] = []  # (requests done, RSS MB)
        self.pids: list[int] = []

    def _next(self) -> int | None:
        with self.lock:
            if self.stop.is_set() or (self.total is not None and self.sent >= self.total):
                return None
            self.sent += 1
            return self.sent

    def client(self, seed: int) -> None:
        rng = random.Random(seed)
        session = requests.Session()
        session.headers["x-api-key"] = self.key
        while (n := self._next()) is not None:
            kind = self.kinds[n % len(self.kinds)]
            started = time.perf_counter()
            try:
                if kind == "verify":
                    a, b, same = rng.choice(self.pairs)
                    response = session.post(self.url + "/v1/verify", timeout=120,
                                            files={"image_a": ("a.jpg", a), "image_b": ("b.jpg", b)})
                    ok = response.status_code == 200 and response.json()["same"] == same
                else:
                    photo, expected = rng.choice(self.probes)
                    response = session.post(self.url + "/v1/galleries/bench/search", timeout=120,
                                            files={"image": ("p.jpg", photo)})
                    ok = response.status_code == 200 and response.json()["results"][0]["identity"] == expected
            except requests.RequestException as exc:
                with self.lock:
                    self.errors.append(f"{kind}: {type(exc).__name__}")
                continue
            elapsed = time.perf_counter() - started
            with self.lock:
                if response.status_code == 200:
                    self.latency[kind].append(elapsed)
                    self.correct[kind] += ok
                elif response.status_code == 422 and response.json()["error"]["code"] == "no_face":
                    self.no_face += 1  # an answer (dlib-hog finds no face in a few LFW photos), not an error
                else:
                    self.errors.append(f"{kind}: {response.status_code} {response.text[:120]}")
                if n % 1000 == 0:
                    self.milestones.append((n, rss_mb(process_tree(self.pids[0]))))

    def run(self, clients: int) -> float:
        threads = [threading.Thread(target=self.client, args=(i,)) for i in range(clients)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


# --------------------------------------------------------------------------- peer: the library without HTTP

_analyzer = None


def _init_peer() -> None:
    global _analyzer
    from facetrust.analyzer import FaceAnalyzer

    _analyzer = FaceAnalyzer()
    _analyzer.detector, _analyzer.recognizer  # noqa: B018 - load the models before timing


def _peer_verify(pair: tuple[bytes, bytes]) -> bool:
    from facetrust.errors import FaceNotFoundError

    try:
        return _analyzer.verify(*pair).same
    except FaceNotFoundError:
        return False


def peer_rate(pairs: list[tuple[bytes, bytes, bool]], workers: int) -> float:
    import multiprocessing

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"),
                             initializer=_init_peer) as pool:
        list(pool.map(_peer_verify, [(a, b) for a, b, _ in pairs[:workers * 2]]))  # warm up every worker
        started = time.perf_counter()
        list(pool.map(_peer_verify, [(a, b) for a, b, _ in pairs], chunksize=1))
        return len(pairs) / (time.perf_counter() - started)


# --------------------------------------------------------------------------- faults


def disconnect_mid_upload(port: int, key: str) -> None:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall((f"POST /v1/verify HTTP/1.1\r\nHost: x\r\nx-api-key: {key}\r\n"
                  "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 500000\r\n\r\n").encode())
    sock.sendall(os.urandom(50_000))
    sock.close()


def slow_client(port: int, key: str, results: list[str]) -> None:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall((f"POST /v1/verify HTTP/1.1\r\nHost: x\r\nx-api-key: {key}\r\n"
                  "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n").encode())
    answer = b""
    try:
        for _ in range(40):  # 100 bytes every 0.25 s for up to 10 s
            sock.sendall(b"x" * 100)
            time.sleep(0.25)
    except OSError:
        pass
    try:
        sock.settimeout(5)
        answer = sock.recv(4096)
    except OSError:
        pass
    sock.close()
    results.append(answer.split(b"\r\n", 1)[0].decode(errors="replace"))


def burst(url: str, home: Path, count: int) -> dict[str, int]:
    from facetrust.server.keys import KeyStore

    _, key = KeyStore(home / "keys.json").create("burst", rate_limit_per_minute=60)
    time.sleep(1.5)  # the server re-reads the key file within a second
    session = requests.Session()
    statuses: dict[str, int] = {}
    for _ in range(count):
        code = str(session.get(url + "/v1/galleries", headers={"x-api-key": key}, timeout=30).status_code)
        statuses[code] = statuses.get(code, 0) + 1
    return statuses


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--identities", type=int, default=300)
    parser.add_argument("--peer-pairs", type=int, default=300)
    parser.add_argument("--fault-seconds", type=float, default=20.0)
    args = parser.parse_args()
    os.environ.setdefault("FACETRUST_MODEL_DIR", str(ROOT.parent / "shared" / "models"))
    report: dict = {"load_average_at_start": load_average(), "cpus": os.cpu_count(), "args": vars(args)}
    print(f"load average at start: {report['load_average_at_start']} on {os.cpu_count()} CPUs", flush=True)

    pairs = [(a.read_bytes(), b.read_bytes(), same) for a, b, same in lfw_pairs()]
    peer_pairs = random.Random(1).sample(pairs, args.peer_pairs)
    # The peer runs first, right before the server's verify-only phase, so both see the same machine.
    report["peer_library_verify_per_s"] = peer_rate(peer_pairs, args.workers)
    enrolled, strangers = gallery_people(args.identities)
    probes = [(p.read_bytes(), name) for name, _, p in enrolled] + [(p.read_bytes(), None) for p in strangers]

    with tempfile.TemporaryDirectory(prefix="facetrust-bench-") as tmp:
        home = Path(tmp)
        process, url, key = start_server(home, args.workers)
        port = int(url.rsplit(":", 1)[1])
        try:
            headers = {"x-api-key": key}
            requests.post(url + "/v1/galleries", json={"name": "bench"}, headers=headers, timeout=30).raise_for_status()
            started = time.perf_counter()
            failed = set()
            for name, photo, _ in enrolled:
                answer = requests.post(url + "/v1/galleries/bench/identities", data={"id": name}, headers=headers,
                                       params={"select": "largest"}, timeout=120,
                                       files=[("images", (photo.name, photo.read_bytes()))])
                if answer.status_code == 422:  # no face found in that photo: not enrolled
                    failed.add(name)
                else:
                    answer.raise_for_status()
            report["enrolment_per_s"] = len(enrolled) / (time.perf_counter() - started)
            report["enrolment_no_face"] = len(failed)
            probes = [(photo, None if name in failed else name) for photo, name in probes]
            print(f"enrolled {len(enrolled) - len(failed)} identities over HTTP ({len(failed)} photos without a "
                  f"face): {report['enrolment_per_s']:.1f}/s", flush=True)

            # Verify only, the workload of the peer below.
            verify_only = Load(url, key, peer_pairs, probes, len(peer_pairs), kinds=("verify",))
            verify_only.pids = process_tree(process.pid)
            report["server_verify_only_per_s"] = len(peer_pairs) / verify_only.run(args.clients)
            print(f"server, verify only: {report['server_verify_only_per_s']:.2f} verify/s", flush=True)

            pids = process_tree(process.pid)
            load = Load(url, key, pairs, probes, args.requests)
            load.pids = pids
            memory_start = rss_mb(process_tree(process.pid))
            cpu_start = cpu_seconds(process_tree(process.pid))
            elapsed = load.run(args.clients)
            cpu_used = cpu_seconds(process_tree(process.pid)) - cpu_start
            done = sum(len(v) for v in load.latency.values())
            report["load"] = {
                "requests": args.requests, "clients": args.clients, "seconds": elapsed,
                "requests_per_s": (done + load.no_face) / elapsed, "no_face_answers": load.no_face,
                "errors": len(load.errors), "error_samples": load.errors[:5],
                "server_cpu_cores_used": cpu_used / elapsed, "rss_mb_start": memory_start,
                "rss_mb_by_requests": load.milestones,
                "load_average_after": load_average(),
                **{f"{kind}_{stat}": value for kind, values in load.latency.items() for stat, value in (
                    ("count", len(values)), ("p50_ms", 1000 * percentile(values, 0.5)),
                    ("p99_ms", 1000 * percentile(values, 0.99)),
                    ("correct", load.correct[kind] / max(1, len(values))))},
            }
            print(json.dumps(report["load"], indent=1), flush=True)

            # Faults while the server is under load.
            background = Load(url, key, pairs, probes, None)
            background.pids = pids
            runner = threading.Thread(target=background.run, args=(args.clients,))
            runner.start()
            slow_answers: list[str] = []
            slow = [threading.Thread(target=slow_client, args=(port, key, slow_answers)) for _ in range(5)]
            for t in slow:
                t.start()
            for _ in range(50):
                disconnect_mid_upload(port, key)
            burst_statuses = burst(url, home, 150)
            health_ok = 0
            fault_end = time.monotonic() + args.fault_seconds
            while time.monotonic() < fault_end:
                health_ok += requests.get(url + "/health", timeout=10).ok
                time.sleep(0.5)
            for t in slow:
                t.join()
            background.stop.set()
            runner.join()
            report["faults"] = {
                "disconnects_mid_upload": 50, "slow_client_answers": slow_answers, "burst_statuses": burst_statuses,
                "background_requests": sum(len(v) for v in background.latency.values()),
                "background_errors": len(background.errors), "background_error_samples": background.errors[:5],
                "health_checks_ok": health_ok, "server_alive": process.poll() is None,
            }
            print(json.dumps(report["faults"], indent=1), flush=True)
        finally:
            process.terminate()
            process.wait(30)

    report["load_average_at_end"] = load_average()
    print(f"peer (library, {args.workers} processes, no HTTP): {report['peer_library_verify_per_s']:.2f} verify/s",
          flush=True)

    rows = [
        ("requests (verify + search)", f"{report['load']['requests']:,}"),
        ("concurrent clients / workers", f"{args.clients} / {args.workers}"),
        ("throughput, all requests", f"{report['load']['requests_per_s']:.1f} req/s"),
        ("verify p50 / p99", f"{report['load']['verify_p50_ms']:.0f} / {report['load']['verify_p99_ms']:.0f} ms"),
        ("search p50 / p99", f"{report['load']['search_p50_ms']:.0f} / {report['load']['search_p99_ms']:.0f} ms"),
        ("errors (non-200 other than 'no face found')", str(report["load"]["errors"])),
        ("'no face found' answers (422)", str(report["load"]["no_face_answers"])),
        ("server CPU cores used", f"{report['load']['server_cpu_cores_used']:.2f}"),
        ("RSS server+workers: start → after each 1,000",
         f"{report['load']['rss_mb_start']:.0f} → " + ", ".join(f"{m:.0f}" for _, m in report["load"]["rss_mb_by_requests"]) + " MB"),
        ("verify correct (same/different vs LFW label)", f"{report['load']['verify_correct']:.3f}"),
        ("search correct (open-set rank 1)", f"{report['load']['search_correct']:.3f}"),
        ("verify only: server (HTTP)", f"{report['server_verify_only_per_s']:.2f} verify/s"),
        ("verify only: peer, the library without HTTP", f"{report['peer_library_verify_per_s']:.2f} verify/s"),
        ("server / peer", f"{report['server_verify_only_per_s'] / report['peer_library_verify_per_s']:.2f}x"),
        ("faults: background errors / health OK / alive",
         f"{report['faults']['background_errors']} / {report['faults']['health_checks_ok']} / "
         f"{report['faults']['server_alive']}"),
        ("faults: slow clients got", ", ".join(sorted(set(report['faults']['slow_client_answers'])))),
        ("faults: burst of 150 over 60/min", str(report["faults"]["burst_statuses"])),
        ("load average start / end", f"{report['load_average_at_start']} / {report['load_average_at_end']}"),
    ]
    width = max(len(r[0]) for r in rows)
    print("\n" + "\n".join(f"{name:<{width}}  {value}" for name, value in rows))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_server.json").write_text(json.dumps(report, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
