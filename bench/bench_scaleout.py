"""Load run of the service scaled out: 1 vs 2 ``facetrust serve`` instances over one PostgreSQL.

It starts PostgreSQL + pgvector (pgserver) in a temporary folder, one instance with
``database_url`` pointing at it, creates an API key in the shared database and enrols
``--identities`` LFW people over HTTP; then runs locust headless (``bench/locust_scaleout.py``:
``--users`` users, ``--duration`` seconds, half verify and half gallery-search requests)
against that instance, starts a second instance on the same database, and runs the same
load round-robin over both (each request to the next instance, as a load balancer would).
Every request goes to 127.0.0.1. Each instance keeps its rate limiter on (with a limit no
client reaches), so every request pays the shared key check and rate-limit step in PostgreSQL.

    python bench/bench_scaleout.py                         # 8 users, 60 s per configuration
    nice python bench/bench_scaleout.py --duration 30      # a quicker look

Printed: requests/s, p50 / p99 latency and errors for search and verify, 1 vs 2 instances,
and the ratio, with the load average before and after each run (results also go to
``bench/results/bench_scaleout.json``). Two instances can only serve more when the machine
has idle cores for the second one's inference workers: on a 2-core machine one instance with
one worker per core already uses both.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_server import free_port, gallery_people, lfw_pairs, load_average  # noqa: E402
from common import RESULTS, ROOT  # noqa: E402

LOCUSTFILE = Path(__file__).resolve().parent / "locust_scaleout.py"


def start_postgres(pgdata: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

        server = pgserver.get_server(pgdata, cleanup_mode="stop")
    server.psql("CREATE EXTENSION IF NOT EXISTS vector;")
    return server


def start_instance(home: Path, env: dict[str, str], workers: int) -> tuple[subprocess.Popen, str]:
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "facetrust.cli.main", "serve", "--host", "127.0.0.1",
                                "--port", str(port), "--workers", str(workers), "--log-level", "warning"],
                               env={**os.environ, "FACETRUST_HOME": str(home), **env}, cwd=ROOT,
                               stdout=open(home / "server.log", "wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(1500):
        if process.poll() is not None:
            sys.exit(f"instance exited:\n{(home / 'server.log').read_text()[-3000:]}")
        try:
            if requests.get(url + "/health", timeout=2).ok:
                return process, url
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    sys.exit("instance did not start")


def enrol(url: str, key: str, people: list[tuple[str, Path, Path]]) -> int:
    headers = {"x-api-key": key}
    requests.post(f"{url}/v1/galleries", json={"name": "bench"}, headers=headers, timeout=60).raise_for_status()
    enrolled = 0
    for name, photo, _ in people:
        answer = requests.post(f"{url}/v1/galleries/bench/identities", data={"id": name}, headers=headers,
                               files={"images": (photo.name, photo.read_bytes())}, timeout=120)
        enrolled += answer.status_code == 201
    return enrolled


def run_locust(hosts: list[str], key: str, work: Path, users: int, duration: int, prefix: Path) -> dict:
    env = {**os.environ, "SCALEOUT_HOSTS": ",".join(hosts), "SCALEOUT_KEY": key, "SCALEOUT_WORK": str(work)}
    before = load_average()
    done = subprocess.run([sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "-u", str(users),
                           "-r", str(users), "-t", f"{duration}s", "--csv", str(prefix), "--only-summary",
                           "--loglevel", "WARNING"], env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode not in (0, 1):  # 1: some requests failed, which the table reports
        sys.exit(f"locust failed:\n{done.stderr[-3000:]}")
    rows = {row["Name"]: row for row in csv.DictReader(open(f"{prefix}_stats.csv"))}
    result = {"load_average_before": before, "load_average_after": load_average()}
    for name in ("verify", "search", "Aggregated"):
        row = rows[name]
        result[name] = {"requests": int(row["Request Count"]), "errors": int(row["Failure Count"]),
                        "rps": float(row["Requests/s"]), "p50_ms": float(row["50%"]), "p99_ms": float(row["99%"])}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--duration", type=int, default=60, help="Seconds of load per configuration.")
    parser.add_argument("--workers", type=int, default=1, help="Inference processes per instance.")
    parser.add_argument("--identities", type=int, default=50)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="facetrust-scaleout-bench-"))
    postgres = start_postgres(tmp / "pgdata")
    processes: list[subprocess.Popen] = []
    try:
        url = str(postgres.get_uri())
        env = {"FACETRUST_SERVER_DATABASE_URL": url, "FACETRUST_SERVER_DATABASE_SCHEMA": "bench",
               "FACETRUST_SERVER_RATE_LIMIT_PER_MINUTE": "1000000", "FACETRUST_SERVER_RATE_LIMIT_BURST": "1000000"}
        from facetrust.server.database import SharedDatabase
        from facetrust.server.keys import PostgresKeyStore

        database = SharedDatabase(url, "bench")
        _, key = PostgresKeyStore(database).create("bench")
        database.close()

        people, strangers = gallery_people(args.identities)
        rng = random.Random(1)
        work = tmp / "work.json"
        work.write_text(json.dumps({"pairs": [[str(a), str(b)] for a, b, _ in rng.sample(lfw_pairs(), 400)],
                                    "probes": [str(p) for _, _, p in people] + [str(p) for p in strangers]}))

        process, first = start_instance(tmp / "a", env, args.workers)
        processes.append(process)
        enrolled = enrol(first, key, people)
        print(f"enrolled {enrolled} of {len(people)} LFW people over HTTP", flush=True)
        one = run_locust([first], key, work, args.users, args.duration, tmp / "one")
        process, second = start_instance(tmp / "b", env, args.workers)
        processes.append(process)
        two = run_locust([first, second], key, work, args.users, args.duration, tmp / "two")
    finally:
        for process in processes:
            process.terminate()
            process.wait(60)
        postgres.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)

    report = {"users": args.users, "duration_s": args.duration, "workers_per_instance": args.workers,
              "cpus": os.cpu_count(), "identities": enrolled, "one_instance": one, "two_instances": two}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_scaleout.json").write_text(json.dumps(report, indent=1))
    print(f"\n{args.users} users, {args.duration} s per configuration, {args.workers} inference worker(s) per "
          f"instance, {os.cpu_count()} CPUs")
    print(f"load average (1/5/15 min): 1 instance {one['load_average_before']} -> {one['load_average_after']}; "
          f"2 instances {two['load_average_before']} -> {two['load_average_after']}")
    print("| requests | instances | req/s | p50 ms | p99 ms | errors / requests |\n|---|---|---|---|---|---|")
    for name in ("search", "verify", "Aggregated"):
        for label, result in (("1", one), ("2", two)):
            r = result[name]
            print(f"| {name.lower()} | {label} | {r['rps']:.2f} | {r['p50_ms']:.0f} | {r['p99_ms']:.0f} "
                  f"| {r['errors']} / {r['requests']} |")
    for name in ("search", "verify", "Aggregated"):
        ratio = two[name]["rps"] / one[name]["rps"] if one[name]["rps"] else float("nan")
        print(f"{name.lower()}: 2 vs 1 instance throughput ratio {ratio:.2f}x")


if __name__ == "__main__":
    main()
