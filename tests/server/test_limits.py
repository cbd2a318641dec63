"""Rate-limit bursts, failed-key limits, and the smaller hardening items (stats without
file paths, reports for unscoped keys only, security headers, base64 images, offline
docs assets, unknown liveness as null) against real servers."""
from __future__ import annotations

import base64
import io

import pytest
import requests
from PIL import Image, ImageOps
from serverkit import EXAMPLES, TEST_IMAGES, assert_error, start_server

from facetrust.server.keys import KeyStore

PHOTO = EXAMPLES / "obama.jpg"


@pytest.fixture(scope="module")
def limited_server(shared, tmp_path_factory):
    running = start_server(tmp_path_factory.mktemp("limited-home"),
                           env={"FACETRUST_SERVER_WORKERS": "1", "FACETRUST_SERVER_AUTH_FAILURES_PER_MINUTE": "5",
                                # yunet finds faces under forgery's 32-px minimum (dlib-hog's boxes are >= 32 px).
                                "FACETRUST_SERVER_DETECTOR": "yunet", "FACETRUST_SERVER_CHECKS": "liveness,forgery"})
    yield running
    running.stop()


def test_a_key_limited_to_5_per_minute_gets_429_after_at_most_5_quick_requests(limited_server):
    _, key = KeyStore(limited_server.home / "keys.json").create("slow", rate_limit_per_minute=5)
    statuses = [limited_server.get("/v1/galleries", key=key).status_code for _ in range(12)]
    assert 1 <= statuses.count(200) <= 5 and statuses[statuses.index(429):].count(200) == 0, statuses
    refused = limited_server.get("/v1/galleries", key=key)
    assert_error(refused, 429, "rate_limited")
    assert int(refused.headers["retry-after"]) >= 1


def test_unknown_liveness_and_forgery_are_null_over_rest(limited_server, shared):
    photo = Image.open(PHOTO)
    gray = io.BytesIO()
    ImageOps.grayscale(photo).save(gray, "JPEG")
    found = limited_server.post("/v1/analyze", files={"image": ("gray.jpg", gray.getvalue())})
    assert found.status_code == 200, found.text
    liveness = found.json()["faces"][0]["liveness"]
    assert liveness["status"] == "unavailable" and liveness["is_live"] is None and liveness["score"] is None
    small = io.BytesIO()  # the face about 24 px wide: too small for a forgery decision
    photo.resize((photo.width // 9, photo.height // 9), Image.Resampling.LANCZOS).save(small, "PNG")
    found = limited_server.post("/v1/analyze", files={"image": ("small.png", small.getvalue())})
    assert found.status_code == 200, found.text
    forgery = found.json()["faces"][0]["forgery"]
    assert forgery["status"] == "unavailable" and forgery["is_fake"] is None and "too small" in forgery["reason"]
    crop = shared / "data" / "utkface" / "images" / "36_1_0_20170104171550313.jpg.chip.jpg"  # a tight face crop
    found = limited_server.post("/v1/analyze", files={"image": ("crop.jpg", crop.read_bytes())})
    assert found.status_code == 200, found.text
    liveness = found.json()["faces"][0]["liveness"]
    assert liveness["status"] == "unavailable" and liveness["is_live"] is None and liveness["score"] is None
    assert liveness["reason"].startswith("tight face crop")
    colour = limited_server.post("/v1/analyze", files={"image": ("c.jpg", PHOTO.read_bytes())}).json()["faces"][0]
    assert colour["liveness"]["is_live"] in (True, False) and colour["forgery"]["is_fake"] in (True, False)


def test_base64_and_data_url_images_are_accepted_and_bad_base64_is_400(limited_server):
    text = base64.b64encode(PHOTO.read_bytes()).decode()
    multipart = limited_server.post("/v1/detect", files={"image": ("o.jpg", PHOTO.read_bytes())}).json()
    for value in (text, f"data:image/jpeg;base64,{text}"):
        answer = limited_server.post("/v1/detect", json={"image": value})
        assert answer.status_code == 200 and answer.json() == multipart
    other = base64.b64encode((TEST_IMAGES / "obama.jpg").read_bytes()).decode()
    verified = limited_server.post("/v1/verify", json={"image_a": text, "image_b": other})
    assert verified.status_code == 200 and verified.json()["same"] is True
    enrolled = limited_server.post("/v1/galleries", json={"name": "b64"})
    assert enrolled.status_code == 201
    made = limited_server.post("/v1/galleries/b64/identities", json={"id": "obama", "images": [text],
                                                                     "metadata": {"team": "a"}})
    assert made.status_code == 201 and made.json()["metadata"] == {"team": "a"}
    found = limited_server.post("/v1/galleries/b64/search", json={"image": other}).json()
    assert found["results"][0]["identity"] == "obama"
    recognized = limited_server.post("/api/v1/detection/detect", json={"file": text})
    assert recognized.status_code == 200 and len(recognized.json()["result"]) == 1
    for bad in ("not base64!", "data:image/jpeg,abc", "QUJD"):  # QUJD is base64 of "ABC": not an image
        assert_error(limited_server.post("/v1/detect", json={"image": bad}), 400, "bad_image")
    cf = limited_server.post("/api/v1/detection/detect", json={"file": "%%%"})
    assert cf.status_code == 400 and set(cf.json()) == {"message", "code"}


def test_stats_hide_the_file_path_and_reports_need_an_unscoped_key(server):
    assert server.post("/v1/galleries", json={"name": "stats-g"}).status_code == 201
    stats = server.get("/v1/galleries/stats-g")
    assert stats.status_code == 200 and str(server.home) not in stats.text and "location" not in stats.json()["stats"]
    _, scoped = KeyStore(server.home / "keys.json").create("scoped", ["stats-g"])
    assert server.get("/v1/galleries/stats-g", key=scoped).status_code == 200
    for path in ("/v1/reports", "/v1/reports/lfw-mini", "/v1/reports/lfw-mini/files/report.json"):
        assert_error(server.get(path, key=scoped), 403, "forbidden")
    assert server.get("/v1/reports").status_code in (200, 404)  # unscoped: allowed (404 only without reports)


def test_security_headers_and_offline_docs_assets(server):
    for path in ("/ui/", "/ui/app.js", "/", "/docs", "/health", "/v1/galleries"):
        response = server.get(path)
        assert response.headers["x-frame-options"] == "DENY" and response.headers["x-content-type-options"] == "nosniff"
        policy = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy
    ui_policy = server.get("/ui/").headers["content-security-policy"]
    assert "script-src 'self';" in ui_policy and "unsafe-inline" not in ui_policy
    docs = server.get("/docs").text
    assert "cdn." not in docs and "/static-docs/swagger-ui-bundle.js" in docs
    assert server.get("/static-docs/swagger-ui-bundle.js").status_code == 200
    assert_error(server.get("/redoc"), 404, "not_found")  # ReDoc needs a CDN: not served


def test_failed_key_checks_are_limited_per_address(limited_server):
    """Last in the module: it blocks this address for a few seconds."""
    statuses = [requests.get(limited_server.url + "/v1/galleries", headers={"x-api-key": f"ft_0000000{i}_bad"},
                             timeout=30).status_code for i in range(8)]
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}, statuses
    blocked = limited_server.get("/v1/galleries")  # even a good key, until the bucket refills
    assert_error(blocked, 429, "rate_limited")
    assert int(blocked.headers["retry-after"]) >= 1
