"""The native REST API on a running server: answers on real photos, auth, and the JSON error shape."""
from __future__ import annotations

import io
import time

import numpy as np
import pytest
import requests
from PIL import Image
from serverkit import EXAMPLES, TEST_IMAGES, assert_error, upload

from facetrust.server.keys import KeyStore


def png_bytes(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (120, 130, 140)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_health_version_docs_and_ui_are_public(server):
    health = requests.get(server.url + "/health", timeout=10).json()
    assert health["status"] == "ok" and health["workers"] == 2
    version = requests.get(server.url + "/version", timeout=10).json()
    assert (version["preset"], version["detector"], version["recognizer"]) == ("balanced", "yunet-retinaface", "edgeface-xs")
    assert version["auth"] is True
    schema = requests.get(server.url + "/openapi.json", timeout=10).json()
    for path in ("/v1/detect", "/v1/analyze", "/v1/verify", "/v1/embed", "/v1/galleries/{name}/search",
                 "/api/v1/recognition/recognize", "/api/v1/verification/verify", "/api/v1/detection/detect"):
        assert path in schema["paths"], path
    assert requests.get(server.url + "/docs", timeout=10).status_code == 200
    page = requests.get(server.url + "/", timeout=10)
    assert page.status_code == 200 and "<title>facetrust</title>" in page.text


def test_detect_two_people(server):
    answer = server.post("/v1/detect", files=upload(EXAMPLES / "two_people.jpg")).json()
    with Image.open(EXAMPLES / "two_people.jpg") as image:
        assert (answer["width"], answer["height"]) == image.size
    assert len(answer["faces"]) == 2
    for face in answer["faces"]:
        assert set(face) == {"box", "score", "landmarks"}
        x1, y1, x2, y2 = face["box"]
        assert 0 <= x1 < x2 <= answer["width"] and 0 <= y1 < y2 <= answer["height"]
        # Every landmark lies inside its face box.
        assert all(x1 <= x <= x2 and y1 <= y <= y2 for x, y in face["landmarks"])


def test_analyze_embeddings_only_on_request_and_checks(server):
    plain = server.post("/v1/analyze", files=upload(EXAMPLES / "obama.jpg")).json()
    assert "embedding" not in plain["faces"][0]
    # A plugin check: this server computes the test plugin's interocular distance for every face.
    face = plain["faces"][0]
    assert face["interocular_px"] == pytest.approx(np.linalg.norm(np.subtract(*face["landmarks"][:2])), abs=0.1)
    full = server.post("/v1/analyze", params={"embedding": "true"}, files=upload(EXAMPLES / "obama.jpg")).json()
    vector = np.array(full["faces"][0]["embedding"])
    assert vector.shape == (512,) and abs(np.linalg.norm(vector) - 1.0) < 1e-3


def test_verify_same_and_different_people(server):
    same = server.post("/v1/verify", files={**upload(EXAMPLES / "obama.jpg", "image_a"),
                                             **upload(EXAMPLES / "obama2.jpg", "image_b")}).json()
    assert same["same"] is True and same["similarity"] >= same["threshold"]
    assert same["face_a"]["interocular_px"] > 0 and same["face_b"]["interocular_px"] > 0
    different = server.post("/v1/verify", params={"fmr": 1e-4},
                            files={**upload(EXAMPLES / "obama.jpg", "image_a"),
                                   **upload(EXAMPLES / "biden.jpg", "image_b")}).json()
    assert different["same"] is False and different["fmr"] == 1e-4
    assert different["similarity"] < different["threshold"]


def test_verify_best_pair_in_a_photo_of_two(server):
    """two_people.jpg: Obama and Biden; best-pair finds Biden and says so; the other face does not match."""
    files = {**upload(EXAMPLES / "two_people.jpg", "image_a"), **upload(EXAMPLES / "biden.jpg", "image_b")}
    largest = server.post("/v1/verify", files=files).json()
    assert largest["index_a"] == 0 and "image a has 2 faces" in largest["hint"]
    best = server.post("/v1/verify", params={"select": "best-pair"}, files=files).json()
    assert best["same"] is True and (best["index_b"], best["comparisons"]) == (0, 2)
    assert best["similarity"] >= largest["similarity"]
    # The face best-pair did not choose is Obama's: as the largest face it must not match Biden.
    assert largest["same"] is (best["index_a"] == 0)
    assert best["fmr_upper_bound"] == pytest.approx(2 * best["fmr"])
    body = assert_error(server.post("/v1/verify", params={"select": "bestpair"}, files=files), 400, "bad_request")
    assert "best-pair" in body["error"]["message"]
    # best-pair is verify's alone: other routes still refuse it.
    assert_error(server.post("/v1/embed", params={"select": "best-pair"}, files=upload(EXAMPLES / "obama.jpg")),
                 400, "bad_request")


def test_embed_matches_analyze(server):
    embedded = server.post("/v1/embed", files=upload(EXAMPLES / "obama.jpg")).json()
    analyzed = server.post("/v1/analyze", params={"embedding": "true"}, files=upload(EXAMPLES / "obama.jpg")).json()
    assert embedded["dim"] == 512 and embedded["faces_in_image"] == 1 and embedded["recognizer"] == "edgeface-xs"
    assert np.allclose(embedded["embedding"], analyzed["faces"][0]["embedding"], atol=1e-5)


def test_bad_inputs_get_json_errors_with_the_right_status(server):
    assert_error(server.post("/v1/detect", files={"image": ("x.jpg", b"this is not an image")}), 400, "bad_image")
    assert_error(server.post("/v1/detect", files={"image": ("empty.jpg", b"")}), 400, "bad_image")
    truncated = (EXAMPLES / "obama.jpg").read_bytes()[:2000]
    assert_error(server.post("/v1/detect", files={"image": ("cut.jpg", truncated)}), 400, "bad_image")
    assert_error(server.post("/v1/detect", files={"image": ("tiny.png", png_bytes(8, 8))}), 422, "image_too_small")
    # 6000 x 6000 = 36 MP: over this server's max_pixels (30 MP) although the PNG is small.
    assert_error(server.post("/v1/detect", files={"image": ("big.png", png_bytes(6000, 6000))}), 413,
                 "image_too_large")
    no_face = {**upload(EXAMPLES / "obama.jpg", "image_a"), "image_b": ("grey.png", png_bytes(200, 200))}
    body = assert_error(server.post("/v1/verify", files=no_face), 422, "no_face")
    assert "image b" in body["error"]["message"]
    assert_error(server.post("/v1/embed", params={"select": "tallest"}, files=upload(EXAMPLES / "obama.jpg")),
                 400, "bad_request")
    assert_error(server.post("/v1/embed", params={"select": "5"}, files=upload(EXAMPLES / "obama.jpg")),
                 400, "bad_request")
    assert_error(server.post("/v1/verify", params={"fmr": 2}, files=upload(EXAMPLES / "obama.jpg", "image_a")),
                 422, "bad_request")
    assert_error(server.post("/v1/detect"), 422, "bad_request")  # no file
    assert_error(server.get("/v1/nothing-here"), 404, "not_found")
    assert_error(server.get("/v1/detect"), 405, "method_not_allowed")


def test_auth_missing_wrong_revoked_and_scoped_keys(server):
    files = upload(TEST_IMAGES / "obama.jpg")
    missing = requests.post(server.url + "/v1/detect", files=files, timeout=60)
    assert_error(missing, 401, "unauthorized")
    assert "x-api-key" in missing.headers["www-authenticate"]
    assert_error(server.post("/v1/detect", key="ft_00000000_wrong", files=files), 401, "unauthorized")
    assert_error(server.post("/v1/detect", key=server.key[:-1] + "x", files=files), 401, "unauthorized")
    # Bearer tokens work as well as the x-api-key header.
    bearer = requests.post(server.url + "/v1/detect", files=files, timeout=60,
                           headers={"Authorization": f"Bearer {server.key}"})
    assert bearer.status_code == 200

    store = KeyStore(server.home / "keys.json")
    record, secret = store.create("short-lived")
    deadline = time.monotonic() + 5  # the server re-reads the key file within a second
    while server.get("/v1/galleries", key=secret).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert server.get("/v1/galleries", key=secret).status_code == 200
    store.revoke(record.id)
    deadline = time.monotonic() + 5
    while server.get("/v1/galleries", key=secret).status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    body = assert_error(server.get("/v1/galleries", key=secret), 401, "unauthorized")
    assert "revoked" in body["error"]["message"]


@pytest.mark.parametrize("path", ["/v1/reports/../keys.json", "/v1/reports/x/files/..%2Fkeys.json"])
def test_no_path_escapes(server, path):
    response = server.get(path)
    assert response.status_code == 404 and "ft_" not in response.text
