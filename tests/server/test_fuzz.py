"""Every route of the app, walked from ``app.routes``, with hostile parameter values, against a
real server: no 5xx, errors are JSON in the route's error shape, and the security headers are
on every answer."""
from __future__ import annotations

from collections import Counter
from urllib.parse import quote

import pytest
import requests
from fastapi.routing import APIRoute
from serverkit import EXAMPLES, start_server, upload

from facetrust.server import create_app, load_config

DEEP_5K = '{"a":' + "[" * 5000 + "]" * 5000 + "}"
DEEP_100K = '{"a":' + "[" * 100_000 + "]" * 100_000 + "}"
#: Values for path and query parameters.
HOSTILE = ["0", "-1", "1e20", "1e30", "1e308", "-1e308", "nan", "inf", "-inf", str(2**64), str(10**30), "9" * 5000,
           "0x10", "1.5", "", " ", "true", "null", "%00", "\u202e", "\U0001F600", "é", "..", ".", "a/b",
           "../../etc/passwd", "x" * 10_000, "[]", "{}", DEEP_5K[:2000]]
#: Values for JSON body fields.
HOSTILE_JSON = [None, 0, -1, 10**30, 1e308, -1.5, "", "x" * 10_000, "\u202e", "\ud800", [], {}, [1, 2],
                {"a": {"b": {"c": 1}}}, True]
RAW_BODIES = [DEEP_5K, DEEP_100K, "not json", "[]", "null", '{"name": "\\ud800"}', "{" * 3]


@pytest.fixture(scope="module")
def fuzz_server(shared, tmp_path_factory):
    # No rate limit: the walk sends a few thousand requests back to back.
    running = start_server(tmp_path_factory.mktemp("fuzz-home"),
                           env={"FACETRUST_SERVER_WORKERS": "1", "FACETRUST_SERVER_RATE_LIMIT_PER_MINUTE": "0",
                                "FACETRUST_SERVER_AUTH_FAILURES_PER_MINUTE": "0"})
    assert running.post("/v1/galleries", json={"name": "G"}).status_code == 201
    enrolled = running.post("/v1/galleries/G/identities", data={"id": "seed"},
                            files=upload(EXAMPLES / "obama.jpg", "images"))
    assert enrolled.status_code == 201
    yield running
    running.stop()


def routes(tmp_path) -> list[APIRoute]:
    """The app's routes (an app built only to list them: nothing starts)."""
    (tmp_path / "server.toml").write_text("[server]\n")
    config = load_config(tmp_path / "server.toml", environ={}, keys_file=str(tmp_path / "keys.json"),
                         gallery_dir=str(tmp_path / "g"))
    found, pending = [], list(create_app(config).routes)
    while pending:  # included routers (FastAPI wraps them) hold their own routes, with full paths
        route = pending.pop(0)
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            pending.extend(route.original_router.routes)
    return found


def check(response: requests.Response, what: str) -> None:
    assert response.status_code < 500, (what, response.status_code, response.text[:300])
    assert response.headers.get("x-content-type-options") == "nosniff", what
    assert response.headers.get("x-frame-options") == "DENY", what
    assert "content-security-policy" in response.headers, what
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/json"), (what, response.text[:200])
        body = response.json()
        expected = {"message", "code"} if what.split()[1].startswith("/api/v1/") else {"error"}
        assert set(body) == expected, (what, body)
        assert "Traceback" not in response.text


def test_every_route_survives_hostile_parameters(fuzz_server, tmp_path):
    session = requests.Session()
    session.headers["x-api-key"] = fuzz_server.key
    found = routes(tmp_path)
    assert len(found) >= 30, [r.path for r in found]
    statuses: Counter[int] = Counter()
    for route in found:
        params = {p.name: p for p in route.dependant.path_params}
        queries = [p.alias for p in route.dependant.query_params]
        bodies = [p.alias for p in route.dependant.body_params]
        for method in sorted(route.methods - {"HEAD"}):

            def url(**values: str) -> str:
                path = route.path
                for name, param in params.items():
                    value = values.get(name, "G" if name == "name" else "1")
                    path = path.replace(f"{{{name}:path}}", quote(value, safe="")).replace(
                        f"{{{name}}}", quote(value, safe=""))
                return fuzz_server.url + path

            cases: list[tuple[str, dict]] = []
            for name in params:
                cases += [(url(**{name: v}), {}) for v in HOSTILE]
            for name in queries:
                cases += [(url(), {"params": {name: v}}) for v in HOSTILE]
            for name in bodies:
                cases += [(url(), {"json": {name: v}}) for v in HOSTILE_JSON]
                cases += [(url(), {"data": {name: v}}) for v in ("", "x" * 10_000, DEEP_5K, "\u202e")]
            if bodies:
                cases += [(url(), {"data": raw.encode("utf-8", "surrogatepass"),
                                   "headers": {"content-type": "application/json"}}) for raw in RAW_BODIES]
                cases += [(url(), {"files": {"image": ("x.jpg", b"\xff\xd8 not a jpeg")}})]
            for target, options in cases:
                headers = options.pop("headers", {})
                response = session.request(method, target, headers=headers, timeout=120, **options)
                check(response, f"{method} {target[len(fuzz_server.url):][:120]} {repr(options)[:120]}")
                statuses[response.status_code] += 1
    print(f"{len(found)} routes, {sum(statuses.values())} requests, statuses {dict(sorted(statuses.items()))}")
    assert sum(statuses.values()) > 1000
    # The seed identity survived everything but its own erasure attempts with hostile ids.
    assert fuzz_server.get("/health").status_code == 200
