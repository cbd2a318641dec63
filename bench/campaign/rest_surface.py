"""The REST surface: a real `facetrust serve` on a loopback port, hostile files, ids, numbers, bodies and keys.

Every answer must be a JSON error with a 4xx status or a result; a 5xx, a dropped connection or a
request over the time limit is a failure. Baseline identities enrolled first must survive.
"""
from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import requests

from bench.campaign.corpus import FACES, HOSTILE_IDS, HOSTILE_NUMBERS, OBAMA, FileInput, nested_metadata
from bench.campaign.outcomes import Tally

TIMEOUT_S = 120
BASELINE = {"obama": OBAMA, "biden": FACES / "examples" / "biden.jpg"}
# Hostile ids are enrolled with a third person, so that the baseline search below stays unambiguous.
OTHER = FACES / "examples" / "alex-lacamoire.png"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Client:
    def __init__(self, url: str, key: str, tally: Tally) -> None:
        self.url, self.key, self.tally = url, key, tally

    def call(self, case: str, method: str, path: str, key: str | None = "", **kwargs) -> requests.Response | None:
        headers = kwargs.pop("headers", {})
        if key is not None:
            headers["x-api-key"] = key or self.key
        try:
            response = requests.request(method, self.url + path, headers=headers, timeout=TIMEOUT_S, **kwargs)
        except requests.Timeout:
            self.tally.add("hang", case, f"{method} {path[:200]}: no answer in {TIMEOUT_S} s")
            return None
        except requests.ConnectionError as exc:
            self.tally.add("server_5xx", case, f"{method} {path[:200]}: connection dropped: {exc}")
            return None
        if response.status_code >= 500:
            self.tally.add("server_5xx", case, f"{method} {path[:200]} -> {response.status_code} {response.text[:500]}")
        elif response.status_code >= 400:
            try:
                body = response.json()
                self.tally.add("clean_error", case)
            except ValueError:
                body = None
            if body is None:
                self.tally.add("multiline_error", case, f"{method} {path[:200]} -> non-JSON {response.text[:300]}")
        else:
            self.tally.add("handled", case)
        return response


def start(home: Path) -> tuple[subprocess.Popen, str, str]:
    from facetrust.server.keys import KeyStore

    home.mkdir(parents=True, exist_ok=True)
    _, key = KeyStore(home / "keys.json").create("campaign")
    port = _free_port()
    env = {**os.environ, "FACETRUST_HOME": str(home)}
    log = open(home / "server.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "facetrust.cli.main", "serve", "--host", "127.0.0.1",
                                "--port", str(port), "--log-level", "warning"], env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/health", timeout=2).status_code == 200:
                return process, url, key
        except requests.ConnectionError:
            time.sleep(0.3)
    raise RuntimeError("the server did not start; see " + str(home / "server.log"))


def run(files: list[FileInput], work: Path) -> Tally:
    tally = Tally("REST server")
    process, url, key = start(work / "server-home")
    client = Client(url, key, tally)
    try:
        client.call("create gallery", "POST", "/v1/galleries", json={"name": "g"})
        for identity, photo in BASELINE.items():
            client.call(f"enrol {identity}", "POST", "/v1/galleries/g/identities", data={"id": identity},
                        files={"images": (photo.name, photo.read_bytes())})
        _images(client, files)
        _ids(client)
        _numbers(client)
        _bodies(client)
        _auth(client)
        _data_loss_check(client, tally)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    return tally


IMAGE_ROUTES = [
    ("detect", "POST", "/v1/detect", "image"),
    ("analyze", "POST", "/v1/analyze", "image"),
    ("embed", "POST", "/v1/embed", "image"),
    ("search", "POST", "/v1/galleries/g/search", "image"),
    ("cf detect", "POST", "/api/v1/detection/detect", "file"),
    ("cf recognize", "POST", "/api/v1/recognition/recognize", "file"),
    ("cf add example", "POST", "/api/v1/recognition/faces?subject=cf-campaign", "file"),
]


def _readable(item: FileInput) -> bytes | None:
    try:
        if item.path.is_file() and not item.path.is_symlink():
            return item.path.read_bytes()
    except OSError:
        return None
    return None


def _images(client: Client, files: list[FileInput]) -> None:
    payloads = {item.name: data for item in files if (data := _readable(item)) is not None}
    payloads["base64 garbage"] = b"data:image/jpeg;base64,@@@@"
    for name, data in payloads.items():
        for route, method, path, field in IMAGE_ROUTES:
            client.call(f"{route} {name}", method, path, files={field: (name, data)})
        client.call(f"verify {name}", "POST", "/v1/verify",
                    files={"image_a": (name, data), "image_b": (OBAMA.name, OBAMA.read_bytes())})
        client.call(f"enrol {name}", "POST", "/v1/galleries/g/identities", data={"id": f"img-{name[:40]}"},
                    files={"images": (name, data)})
    for name, body in {"base64 garbage": {"image": "!!!"}, "base64 of text": {"image": base64.b64encode(b"x").decode()},
                       "data url junk": {"image": "data:image/png;base64,AAAA"}, "number": {"image": 5},
                       "list": {"image": [1, 2]}, "empty": {}}.items():
        for route, method, path, _ in IMAGE_ROUTES[:3]:
            client.call(f"{route} json {name}", method, path, json=body)
    for route, method, path, field in IMAGE_ROUTES:
        client.call(f"{route} no body", method, path)
        client.call(f"{route} wrong field", method, path, files={"nope": ("a.jpg", OBAMA.read_bytes())})
        client.call(f"{route} text body", method, path, data="hello", headers={"content-type": "text/plain"})


def _ids(client: Client) -> None:
    for identity in HOSTILE_IDS:
        short = repr(identity[:20])
        photo = {"images": (OTHER.name, OTHER.read_bytes())}
        client.call(f"enrol id {short}", "POST", "/v1/galleries/g/identities", data={"id": identity}, files=photo)
        for encoded in {quote(identity, safe=""), quote(identity, safe="/")}:
            base = f"/v1/galleries/g/identities/{encoded}"
            client.call(f"get id {short}", "GET", base)
            client.call(f"patch id {short}", "PATCH", base, json={"name": "x"})
            client.call(f"add template id {short}", "POST", base + "/templates",
                        files={"images": (OTHER.name, OTHER.read_bytes())})
            client.call(f"delete id {short}", "DELETE", base)
            client.call(f"cf rename {short}", "PUT", f"/api/v1/recognition/subjects/{encoded}", json={"subject": "y"})
            client.call(f"cf delete {short}", "DELETE", f"/api/v1/recognition/subjects/{encoded}")
        client.call(f"cf add subject {short}", "POST", "/api/v1/recognition/subjects", json={"subject": identity})
        client.call(f"cf add example {short}", "POST", "/api/v1/recognition/faces",
                    params={"subject": identity}, files={"file": (OTHER.name, OTHER.read_bytes())})
        client.call(f"cf delete subject {short}", "DELETE",
                    f"/api/v1/recognition/subjects/{quote(identity, safe='')}")
        client.call(f"gallery name {short}", "GET", f"/v1/galleries/{quote(identity, safe='')}")
        client.call(f"report name {short}", "GET", f"/v1/reports/{quote(identity, safe='')}")


def _numbers(client: Client) -> None:
    for value in HOSTILE_NUMBERS:
        client.call(f"list offset={value}", "GET", "/v1/galleries/g/identities", params={"offset": value})
        client.call(f"list limit={value}", "GET", "/v1/galleries/g/identities", params={"limit": value})
        client.call(f"delete template {value}", "DELETE", f"/v1/galleries/g/templates/{quote(value, safe='')}")
        for parameter in ("k", "fmr", "threshold"):
            client.call(f"search {parameter}={value}", "POST", "/v1/galleries/g/search", params={parameter: value},
                        files={"image": (OBAMA.name, OBAMA.read_bytes())})
        client.call(f"verify fmr={value}", "POST", "/v1/verify", params={"fmr": value},
                    files={"image_a": ("a.jpg", OBAMA.read_bytes()), "image_b": ("b.jpg", OBAMA.read_bytes())})
        client.call(f"cf faces page={value}", "GET", "/api/v1/recognition/faces", params={"page": value, "size": value})
        client.call(f"cf delete example {value}", "DELETE", f"/api/v1/recognition/faces/{quote(value, safe='')}")
        client.call(f"cf recognize limit={value}", "POST", "/api/v1/recognition/recognize",
                    params={"limit": value, "prediction_count": value, "det_prob_threshold": value},
                    files={"file": ("a.jpg", OBAMA.read_bytes())})


def _bodies(client: Client) -> None:
    for depth in (100, 5_000, 100_000):
        text = '{"metadata": ' + nested_metadata(depth) + "}"
        client.call(f"patch metadata depth {depth}", "PATCH", "/v1/galleries/g/identities/obama", data=text,
                    headers={"content-type": "application/json"})
        client.call(f"enrol metadata depth {depth}", "POST", "/v1/galleries/g/identities",
                    data={"id": f"deep-{depth}", "metadata": nested_metadata(depth)},
                    files={"images": (OTHER.name, OTHER.read_bytes())})
    for case, text in {"not json": "{", "array": "[]", "string": '"x"', "huge string": json.dumps({"name": "x" * 5_000_000}),
                       "nul": '{"name": "\\u0000"}', "wrong types": '{"name": 5, "metadata": "x", "merge": "y"}'}.items():
        client.call(f"patch body {case}", "PATCH", "/v1/galleries/g/identities/obama", data=text,
                    headers={"content-type": "application/json"})
        client.call(f"create gallery body {case}", "POST", "/v1/galleries", data=text,
                    headers={"content-type": "application/json"})
    client.call("body 60 MB", "POST", "/v1/detect", files={"image": ("big.jpg", b"\xff\xd8" + os.urandom(60_000_000))})
    for name in ("", "../../etc", "a" * 300, "CON", "g/../g", ".hidden"):
        client.call(f"create gallery {name[:20]!r}", "POST", "/v1/galleries", json={"name": name})
    for path in ("/v1/nope", "/v1/galleries/g/nope", "/api/v1/nope", "/ui/../../etc/passwd", "/ui/%2e%2e/keys.json",
                 "/v1/reports/..%2F..%2Fkeys.json/files/x", "/v1/reports/x/files/..%2F..%2Fkeys.json"):
        client.call(f"get {path}", "GET", path)
    for method in ("PUT", "PATCH", "DELETE"):
        client.call(f"{method} /v1/detect", method, "/v1/detect")


def _auth(client: Client) -> None:
    routes = [("GET", "/v1/galleries"), ("POST", "/v1/detect"), ("GET", "/v1/galleries/g/identities/obama"),
              ("DELETE", "/v1/galleries/g/identities/obama"), ("GET", "/api/v1/recognition/subjects"),
              ("GET", "/v1/reports")]
    for method, path in routes:
        for case, key in (("no key", None), ("wrong key", "nope"), ("10k key", "k" * 10_000),
                          ("non-ascii key", "ключ"), ("key with newline", "a\nb")):
            try:
                client.call(f"{case} {method} {path}", method, path, key=key)
            except (requests.exceptions.InvalidHeader, UnicodeEncodeError, ValueError):
                client.tally.add("clean_error", f"{case}: refused by the HTTP client itself")


def _patient(method: str, url: str, key: str, **kwargs) -> requests.Response:
    """A request that waits out 429s: the failed-key limit of the address (the bad keys sent
    above) answers 429 even to the good key for a while."""
    deadline = time.monotonic() + 180
    while True:
        response = requests.request(method, url, headers={"x-api-key": key}, timeout=TIMEOUT_S, **kwargs)
        if response.status_code != 429 or time.monotonic() > deadline:
            return response
        time.sleep(min(float(response.headers.get("retry-after", 5)), 30))


def _data_loss_check(client: Client, tally: Tally) -> None:
    lost = []
    for identity in BASELINE:
        response = _patient("GET", f"{client.url}/v1/galleries/g/identities/{identity}", client.key)
        if response.status_code != 200 or not response.json().get("templates"):
            lost.append(identity)
    # Other ids may hold the same photo (hostile files include copies of it), so obama must be
    # among the top matches rather than first.
    found = _patient("POST", f"{client.url}/v1/galleries/g/search", client.key, params={"k": 50},
                     files={"image": (OBAMA.name, OBAMA.read_bytes())}).json()
    matches = [m["id"] for m in (found.get("results") or [{}])[0].get("matches", [])]
    if lost or "obama" not in matches:
        tally.add("data_lost", "baseline after campaign", f"lost={lost} matches={matches[:10]}")
    else:
        tally.add("handled", "baseline after campaign")
