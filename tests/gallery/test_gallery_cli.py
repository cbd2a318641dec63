"""``facetrust gallery …`` end to end on real photos: enrol a folder, identify, manage, export, errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from facetrust.cli.main import app

runner = CliRunner()
KNN = "data/faces/ageitgey_face_recognition/examples/knn_examples"


def run(*args: object):
    return runner.invoke(app, ["gallery", *[str(a) for a in args]])


def ok(*args: object):
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def enrolled(shared: Path, tmp_path_factory) -> Path:
    """The knn_examples/train folder (one sub-folder per person) enrolled through the CLI."""
    gallery = tmp_path_factory.mktemp("cli") / "people.gallery"
    ok("create", gallery)
    report = json.loads(ok("enroll", gallery, "--folder", shared / KNN / "train", "--json").stdout)
    assert report == {"enrolled": 5, "skipped": 0, "failed": {}}
    return gallery


def test_folder_enrolment_resumes(enrolled, shared):
    report = json.loads(ok("enroll", enrolled, "--folder", shared / KNN / "train", "--json").stdout)
    assert report == {"enrolled": 0, "skipped": 5, "failed": {}}
    listed = json.loads(ok("list", enrolled, "--json").stdout)
    assert sorted(i["id"] for i in listed) == ["alex_lacamoire", "biden", "kit_harington", "obama", "rose_leslie"]
    assert {i["id"]: len(i["templates"]) for i in listed}["obama"] == 2


def test_search_json_and_text(enrolled, shared):
    records = json.loads(ok("search", enrolled, shared / KNN / "test/obama1.jpg",
                            shared / KNN / "test/johnsnow_test1.jpg", "--json", "-k", "2").stdout)
    assert [r["results"][0]["identity"] for r in records] == ["obama", "kit_harington"]
    first = records[0]["results"][0]
    assert set(first) == {"identity", "threshold", "matches", "face"}
    assert len(first["matches"]) == 2 and set(first["matches"][0]) == {"id", "name", "score", "template_id"}
    group = json.loads(ok("search", enrolled, shared / KNN / "test/kit_with_rose.jpg", "--all-faces", "--json").stdout)
    assert sorted(r["identity"] for r in group[0]["results"]) == ["kit_harington", "rose_leslie"]
    lines = ok("search", enrolled, shared / KNN / "test/alex_lacamoire1.jpg").stdout.splitlines()
    assert lines[0].endswith("alex_lacamoire (score " + lines[0].split("(score ")[1].split(")")[0] + ")")
    assert [line.split()[:2] for line in lines[1:]][0] == ["1.", "alex_lacamoire"] and len(lines) == 6  # k = 5


def test_search_without_a_face_fails_with_one_line(enrolled, tmp_path):
    from PIL import Image
    from skimage import data

    Image.fromarray(data.coffee()).save(tmp_path / "coffee.png")
    result = run("search", enrolled, tmp_path / "coffee.png")
    assert result.exit_code == 1 and "no face found" in result.output


def test_manage_export_import(enrolled, shared, tmp_path):
    ok("update", enrolled, "--id", "biden", "--name", "Joe Biden", "--metadata", '{"role": "vp"}')
    shown = json.loads(ok("get", enrolled, "biden").stdout)
    assert shown["name"] == "Joe Biden" and shown["metadata"] == {"role": "vp"}
    ok("export", enrolled, tmp_path / "people.jsonl.gz")
    copy = tmp_path / "copy.gallery"
    ok("import", copy, tmp_path / "people.jsonl.gz")
    assert json.loads(ok("stats", copy, "--json").stdout)["identities"] == 5
    ok("remove", copy, "--id", "obama")
    records = json.loads(ok("search", copy, shared / KNN / "test/obama1.jpg", "--json").stdout)
    assert records[0]["results"][0]["identity"] is None  # obama is gone from the copy only
    assert json.loads(ok("check", copy, "--json").stdout)["ok"] is True
    assert run("import", copy, tmp_path / "people.jsonl.gz").exit_code == 1  # duplicates
    ok("import", copy, tmp_path / "people.jsonl.gz", "--skip-existing")
    assert json.loads(ok("stats", copy, "--json").stdout)["identities"] == 5


def test_bad_input_gives_one_readable_line(enrolled, shared, tmp_path):
    np.save(tmp_path / "short.npy", np.ones((1, 64), dtype=np.float32))
    cases = [
        (("enroll", enrolled, "--id", "x", "--embeddings", tmp_path / "short.npy"), "512-d"),  # the default preset's EdgeFace-XS
        (("enroll", enrolled, "--id", "obama", shared / KNN / "test/obama1.jpg"), "already enrolled"),
        (("enroll", enrolled, "--id", "pair", shared / KNN / "test/kit_with_rose.jpg"), "2 faces"),
        (("remove", enrolled, "--id", "nobody"), "not enrolled"),
        (("update", enrolled, "--id", "biden", "--metadata", "[1, 2]"), "JSON object"),
        (("search", shared / KNN / "test/obama1.jpg", shared / KNN / "test/obama1.jpg"), "not a facetrust gallery"),
        (("list", tmp_path / "missing.gallery"), "no gallery"),
        (("create", enrolled), "already exists"),
    ]
    for args, message in cases:
        result = run(*args)
        assert result.exit_code != 0, args
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output
