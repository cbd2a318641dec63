"""Galleries over HTTP: create, enrol, search (open set), update, remove, export, key scopes."""
from __future__ import annotations

import gzip
import json

from serverkit import EXAMPLES, TEST_IMAGES, assert_error, upload, wait_for_key

from facetrust.server.keys import KeyStore

KNN = EXAMPLES / "knn_examples"


def images(*paths) -> list[tuple[str, tuple[str, bytes]]]:
    return [("images", (p.name, p.read_bytes())) for p in paths]


def enrol(server, gallery: str, identity: str, *paths, **fields):
    return server.post(f"/v1/galleries/{gallery}/identities", data={"id": identity, **fields}, files=images(*paths))


def test_gallery_lifecycle(server):
    created = server.post("/v1/galleries", json={"name": "staff"})
    assert created.status_code == 201 and created.json() == {"name": "staff", "identities": 0, "templates": 0,
                                                              "recognizer": "edgeface-xs"}
    assert_error(server.post("/v1/galleries", json={"name": "staff"}), 409, "already_exists")
    assert_error(server.post("/v1/galleries", json={"name": "../escape"}), 400, "bad_request")

    obama = enrol(server, "staff", "obama", KNN / "train/obama/obama.jpg", KNN / "train/obama/obama2.jpg",
                  name="Barack Obama", metadata=json.dumps({"team": "a"}))
    assert obama.status_code == 201, obama.text
    assert obama.json()["name"] == "Barack Obama" and len(obama.json()["templates"]) == 2
    assert enrol(server, "staff", "biden", KNN / "train/biden/biden.jpg").status_code == 201
    assert enrol(server, "staff", "kit", KNN / "train/kit_harington/john1.jpeg").status_code == 201
    added = server.post("/v1/galleries/staff/identities/kit/templates", files=images(KNN / "train/kit_harington/john2.jpeg"))
    assert added.status_code == 201 and len(added.json()["template_ids"]) == 1

    listing = server.get("/v1/galleries/staff/identities").json()
    assert listing["total"] == 3 and {i["id"] for i in listing["identities"]} == {"obama", "biden", "kit"}
    assert server.get("/v1/galleries/staff").json()["templates"] == 5

    # Open-set search: enrolled people are found, others are "not enrolled".
    found = server.post("/v1/galleries/staff/search", files=upload(KNN / "test/obama1.jpg")).json()
    assert found["results"][0]["identity"] == "obama"
    assert found["results"][0]["matches"][0]["name"] == "Barack Obama"
    assert found["results"][0]["face"]["interocular_px"] > 0  # per-face extras appear in search answers too
    stranger = server.post("/v1/galleries/staff/search", files=upload(KNN / "test/alex_lacamoire1.jpg")).json()
    assert stranger["results"][0]["identity"] is None
    both = server.post("/v1/galleries/staff/search", params={"all_faces": "true", "k": 2},
                       files=upload(KNN / "test/obama_and_biden.jpg")).json()
    identities = [r["identity"] for r in both["results"]]
    assert {"obama", "biden"} <= set(identities) and len(both["results"][0]["matches"]) == 2

    patched = server.patch("/v1/galleries/staff/identities/biden", json={"name": "Joe Biden",
                                                                          "metadata": {"role": "vp"}})
    assert patched.status_code == 200 and patched.json()["metadata"] == {"role": "vp"}
    assert server.get("/v1/galleries/staff/identities/biden").json()["name"] == "Joe Biden"

    export = server.get("/v1/galleries/staff/export")
    assert export.status_code == 200
    lines = gzip.decompress(export.content).decode().splitlines()
    assert json.loads(lines[0])["identities"] == 3 and len(lines) == 4

    template = server.get("/v1/galleries/staff/identities/kit").json()["templates"][0]["id"]
    assert server.delete(f"/v1/galleries/staff/templates/{template}").status_code == 200
    assert len(server.get("/v1/galleries/staff/identities/kit").json()["templates"]) == 1
    assert server.delete("/v1/galleries/staff/identities/obama").json() == {"removed": "obama"}
    after = server.post("/v1/galleries/staff/search", files=upload(KNN / "test/obama1.jpg")).json()
    assert after["results"][0]["identity"] is None
    assert all(m["id"] != "obama" for m in after["results"][0]["matches"])


def test_gallery_errors(server):
    server.post("/v1/galleries", json={"name": "errors"})
    assert enrol(server, "errors", "obama", TEST_IMAGES / "obama.jpg").status_code == 201
    assert_error(enrol(server, "errors", "obama", TEST_IMAGES / "obama2.jpg"), 409, "already_exists")
    assert_error(enrol(server, "errors", "pair", EXAMPLES / "two_people.jpg"), 422, "multiple_faces")
    chosen = server.post("/v1/galleries/errors/identities", params={"select": "largest"},
                         data={"id": "pair"}, files=images(EXAMPLES / "two_people.jpg"))
    assert chosen.status_code == 201
    assert_error(enrol(server, "errors", "bad-meta", TEST_IMAGES / "biden.jpg", metadata="[1, 2]"), 400,
                 "gallery_error")
    assert_error(server.get("/v1/galleries/errors/identities/nobody"), 404, "not_found")
    assert_error(server.delete("/v1/galleries/errors/identities/nobody"), 404, "not_found")
    assert_error(server.get("/v1/galleries/missing/identities"), 404, "not_found")
    assert_error(server.post("/v1/galleries/missing/search", files=upload(TEST_IMAGES / "obama.jpg")), 404,
                 "not_found")
    # Enrolment is all-or-nothing: one bad image of three stores nothing.
    bad = enrol(server, "errors", "three", TEST_IMAGES / "obama2.jpg", EXAMPLES / "two_people.jpg",
                TEST_IMAGES / "obama3.jpg")
    assert_error(bad, 422, "multiple_faces")
    assert_error(server.get("/v1/galleries/errors/identities/three"), 404, "not_found")


def test_keys_are_scoped_per_gallery(server):
    server.post("/v1/galleries", json={"name": "team-a"})
    server.post("/v1/galleries", json={"name": "team-b"})
    _, secret = KeyStore(server.home / "keys.json").create("team a only", ["team-a"])
    wait_for_key(server, secret)
    listed = server.get("/v1/galleries", key=secret).json()
    assert [g["name"] for g in listed["galleries"]] == ["team-a"]
    assert server.get("/v1/galleries/team-a/identities", key=secret).status_code == 200
    assert_error(server.get("/v1/galleries/team-b/identities", key=secret), 403, "forbidden")
    assert_error(server.post("/v1/galleries", key=secret, json={"name": "team-c"}), 403, "forbidden")
    # Non-gallery endpoints stay open to a scoped key.
    assert server.post("/v1/detect", key=secret, files=upload(TEST_IMAGES / "obama.jpg")).status_code == 200
