"""Hostile identity ids over REST and the CompreFace subjects API, against the real server.

New ids follow the library's rule (facetrust.gallery.identity_id); ids stored before it
(``.``, ``..``, an RTL override …, written here below the rule as an older version
could) can always be read and erased, with the id as a percent-encoded path or ``?id=``.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
from serverkit import EXAMPLES, assert_error, upload

from facetrust.gallery import Gallery, NewTemplate
from facetrust.server.keys import KeyStore

PHOTO = EXAMPLES / "obama.jpg"
#: New ids the server must accept and then find and erase by path.
ACCEPTED = ["a/b", "../../etc/passwd", "%2E%2E", "x" * 256]
#: New ids it must refuse (400) without storing anything.
REFUSED = [".", "..", "\u202eevil", "a\x01b", " padded", "x" * 10_000]
#: Ids an older version could store.
OLD = [".", "..", "\u202eevil", " padded", "a/b", "../../etc/passwd"]


def in_path(identity_id: str) -> str:
    """The id as one path segment; dots encoded too, or clients rewrite '.' and '..' segments."""
    return quote(identity_id, safe="").replace(".", "%2E")


def old_gallery(folder: Path, name: str, ids: list[str], analyzer) -> None:
    """A gallery holding ``ids`` written below the new-id rule, with real embeddings."""
    photos = sorted((EXAMPLES / "knn_examples" / "train").glob("*/*.jp*g"))
    vectors = [analyzer.analyze(p)[0].embedding for p in photos[:len(ids)]]
    folder.mkdir(parents=True, exist_ok=True)
    with Gallery.create(folder / f"{name}.gallery", analyzer.config.recognizer) as gallery:
        gallery.backend.enroll([(i, None, "{}", [NewTemplate(v / np.linalg.norm(v))]) for i, v in zip(ids, vectors)],
                               "error")


def test_rest_enrols_reads_and_erases_ids_with_slashes_and_refuses_hostile_ones(server):
    assert server.post("/v1/galleries", json={"name": "hostile-rest"}).status_code == 201
    base = "/v1/galleries/hostile-rest/identities"
    for identity_id in REFUSED:
        body = assert_error(server.post(base, data={"id": identity_id}, files=upload(PHOTO, "images")),
                            400, "gallery_error")
        assert "identity id" in body["error"]["message"]
    assert server.get(base).json()["total"] == 0
    for identity_id in ACCEPTED:
        assert server.post(base, data={"id": identity_id}, files=upload(PHOTO, "images")).status_code == 201
        got = server.get(f"{base}/{in_path(identity_id)}")
        assert got.status_code == 200 and got.json()["id"] == identity_id
    assert {i["id"] for i in server.get(base).json()["identities"]} == set(ACCEPTED)
    for identity_id in ACCEPTED:
        assert server.delete(f"{base}/{in_path(identity_id)}").json() == {"removed": identity_id}
        assert_error(server.get(f"{base}/{in_path(identity_id)}"), 404, "not_found")
    # A 10k-character id is refused cleanly on lookup and erasure too.
    assert_error(server.get(f"{base}/{'x' * 10_000}"), 400, "gallery_error")
    assert_error(server.delete(f"{base}/{'x' * 10_000}"), 400, "gallery_error")


def test_rest_reads_searches_and_erases_ids_stored_before_the_rule(server, analyzer):
    old_gallery(server.home / "galleries", "hostile-old", OLD, analyzer)
    base = "/v1/galleries/hostile-old/identities"
    assert {i["id"] for i in server.get(base).json()["identities"]} == set(OLD)
    for identity_id in OLD:
        assert server.get(f"{base}/{in_path(identity_id)}").json()["id"] == identity_id
        renamed = server.patch(f"{base}/{in_path(identity_id)}", json={"name": "n"})
        assert renamed.status_code == 200 and renamed.json()["name"] == "n"
    half = len(OLD) // 2
    for identity_id in OLD[:half]:  # by path …
        assert server.delete(f"{base}/{in_path(identity_id)}").json() == {"removed": identity_id}
    removed = server.delete(base, params=[("id", i) for i in OLD[half:]])  # … and by query, several at once
    assert removed.status_code == 200 and removed.json() == {"removed": OLD[half:]}
    assert server.get(base).json()["total"] == 0
    assert_error(server.delete(base), 422, "bad_request")  # no id: nothing is erased


def test_compreface_subjects_with_hostile_names(server, analyzer):
    old_gallery(server.home / "galleries", "hostile-cf", OLD, analyzer)
    (server.home / "galleries" / "hostile-cf.gallery.subjects.json").write_text('["..", "\\u202eempty"]')
    _, key = KeyStore(server.home / "keys.json").create("cf", ["hostile-cf"])  # its collection: hostile-cf
    subjects = "/api/v1/recognition/subjects"
    assert set(server.get(subjects, key=key).json()["subjects"]) == set(OLD) | {"\u202eempty"}
    for name in REFUSED:
        refused = server.post(subjects, key=key, json={"subject": name})
        assert refused.status_code == 400 and "identity id" in refused.json()["message"], refused.text
    renamed = server.put(f"{subjects}/{in_path('a/b')}", key=key, json={"subject": "\u202enew"})
    assert renamed.status_code == 400 and "identity id" in renamed.json()["message"]
    added = server.post("/api/v1/recognition/faces", key=key, params={"subject": "c/d"},
                        files=upload(PHOTO, "file"))
    assert added.status_code == 200 and added.json()["subject"] == "c/d"
    for name in [*OLD, "\u202eempty", "c/d"]:
        deleted = server.delete(f"{subjects}/{in_path(name)}", key=key)
        assert deleted.status_code == 200 and deleted.json() == {"subject": name}, (name, deleted.text)
    assert server.get(subjects, key=key).json()["subjects"] == []
    missing = server.delete(f"{subjects}/{in_path('x' * 10_000)}", key=key)
    assert missing.status_code in (400, 404) and set(missing.json()) == {"message", "code"}
