"""The locust users of bench/bench_scaleout.py (run by it; not on its own).

Each request goes to the next instance of ``SCALEOUT_HOSTS`` (comma-separated, 127.0.0.1
only), round-robin: the load balancer of a real deployment, without a proxy in between.
Half the requests are ``POST /v1/verify`` (an LFW View-2 pair), half
``POST /v1/galleries/bench/search`` (a photo of an enrolled person, or of someone not
enrolled). A 422 ``no_face`` is an answer (a few LFW photos have no face the detector
finds), not an error; any other non-200 is.
"""
from __future__ import annotations

import itertools
import json
import os
import random
from pathlib import Path

from locust import HttpUser, constant, task

HOSTS = os.environ["SCALEOUT_HOSTS"].split(",")
if not all(h.startswith("http://127.0.0.1:") for h in HOSTS):
    raise SystemExit("SCALEOUT_HOSTS must be loopback URLs")
KEY = os.environ["SCALEOUT_KEY"]
_work = json.loads(Path(os.environ["SCALEOUT_WORK"]).read_text())
PAIRS = [(Path(a).read_bytes(), Path(b).read_bytes()) for a, b in _work["pairs"]]
PROBES = [Path(p).read_bytes() for p in _work["probes"]]
_next_host = itertools.cycle(HOSTS)


def _check(response) -> None:
    if response.status_code == 200 or (response.status_code == 422 and "no_face" in response.text):
        response.success()
    else:
        response.failure(f"HTTP {response.status_code}: {response.text[:120]}")


class ServiceUser(HttpUser):
    host = HOSTS[0]
    wait_time = constant(0)

    def on_start(self) -> None:
        self.client.headers["x-api-key"] = KEY
        self.rng = random.Random()

    @task
    def verify(self) -> None:
        a, b = self.rng.choice(PAIRS)
        with self.client.post(f"{next(_next_host)}/v1/verify", name="verify", catch_response=True,
                              files={"image_a": ("a.jpg", a), "image_b": ("b.jpg", b)}) as response:
            _check(response)

    @task
    def search(self) -> None:
        with self.client.post(f"{next(_next_host)}/v1/galleries/bench/search", name="search", catch_response=True,
                              files={"image": ("probe.jpg", self.rng.choice(PROBES))}) as response:
            _check(response)
