"""One enrolment path: the same photo gives the same stored template record (quality score and
method, source, face box, detector, recognizer) through the library, the CLI, the REST API and
the CompreFace API (a real server)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from serverkit import EXAMPLES, ROOT

from facetrust.defaults import DEFAULT_DETECTOR
from facetrust.gallery import Gallery

PHOTO = EXAMPLES / "knn_examples" / "train" / "obama" / "obama.jpg"
RECORD = ("quality", "quality_method", "source", "box", "detector")


def record(template: dict) -> dict:
    return {key: template[key] for key in RECORD}


def test_the_same_photo_gives_the_same_template_record_everywhere(server, tmp_path, monkeypatch):
    # Given by file name from its folder: the library and the CLI record the path as given,
    # the servers the upload's file name; both are "obama.jpg" here.
    monkeypatch.chdir(PHOTO.parent)
    with Gallery.create(tmp_path / "library.gallery") as gallery:
        library = record(gallery.enroll("obama", PHOTO.name).to_dict()["templates"][0])
        recognizer = gallery.model.name

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cli = [sys.executable, "-m", "facetrust.cli.main", "gallery"]
    subprocess.run([*cli, "create", tmp_path / "cli.gallery"], check=True, env=env, capture_output=True)
    enrolled = subprocess.run([*cli, "enroll", tmp_path / "cli.gallery", "--id", "obama", PHOTO.name, "--json"],
                              check=True, env=env, capture_output=True, text=True, cwd=PHOTO.parent)
    command_line = record(json.loads(enrolled.stdout)["templates"][0])

    assert server.post("/v1/galleries", json={"name": "enrolment-path"}).status_code == 201
    rest = server.post("/v1/galleries/enrolment-path/identities", data={"id": "obama"},
                       files=[("images", (PHOTO.name, PHOTO.read_bytes()))])
    assert rest.status_code == 201, rest.text
    assert server.get("/v1/galleries/enrolment-path").json()["recognizer"] == recognizer

    example = server.post("/api/v1/recognition/faces", params={"subject": "enrolment-path-obama"},
                          files={"file": (PHOTO.name, PHOTO.read_bytes())})
    assert example.status_code == 200, example.text
    # The CompreFace collection is the gallery "compreface" (tests/server/conftest.py).
    compreface = server.get("/v1/galleries/compreface/identities/enrolment-path-obama").json()
    assert [str(t["id"]) for t in compreface["templates"]] == [example.json()["image_id"]]

    assert library["quality"] is not None and library["quality_method"] and library["source"] == PHOTO.name
    assert library["detector"] == DEFAULT_DETECTOR and len(library["box"]) == 4
    for surface, found in (("cli", command_line), ("rest", record(rest.json()["templates"][0])),
                           ("compreface", record(compreface["templates"][0]))):
        assert found["quality"] == pytest.approx(library["quality"], abs=1e-4), surface
        assert {k: v for k, v in found.items() if k != "quality"} == \
               {k: v for k, v in library.items() if k != "quality"}, surface
