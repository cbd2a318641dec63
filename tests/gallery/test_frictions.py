"""What a new user tripped over, on real photos: re-running the README example, removal by
positional id with the templates counted, the --select hint, all k matches in human output,
ISO-8601 times, search progress on stderr."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from facetrust.errors import ModelMismatchError
from facetrust.gallery import Gallery
from gallery_vectors import unit_vectors

KNN = "data/faces/ageitgey_face_recognition/examples/knn_examples"
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
runner = CliRunner()


def cli(*args: object):
    from facetrust.cli.main import app

    return runner.invoke(app, ["gallery", *map(str, args)])


def ok(*args: object):
    result = cli(*args)
    assert result.exit_code == 0, result.output
    return result


def test_the_readme_example_runs_twice(shared, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    photos = [shared / KNN / "train/obama/obama.jpg", shared / KNN / "train/obama/obama2.jpg"]
    for _ in range(2):
        gallery = Gallery.create("staff.gallery", "dlib-resnet", exist_ok=True)
        if "obama" not in gallery:
            gallery.enroll("obama", images=photos, name="Barack Obama")
        assert gallery.search(shared / KNN / "test/obama1.jpg").identity == "obama"
        gallery.close()
    with Gallery.open("staff.gallery") as gallery:
        assert len(gallery) == 1 and len(gallery.get("obama").templates) == 2
    with pytest.raises(ModelMismatchError, match="holds"):  # exist_ok opens only a gallery of the same model
        Gallery.create("staff.gallery", "mobilefacenet", exist_ok=True)


def test_remove_by_positional_id_counts_the_templates(tmp_path):
    path = tmp_path / "r.gallery"
    vectors = unit_vectors(6, seed=60)
    with Gallery.create(path, "dlib-resnet") as gallery:
        gallery.enroll("a", embeddings=vectors[:3])
        gallery.enroll("b", embeddings=vectors[3:4])
        gallery.enroll("c", embeddings=vectors[4:6])
        single = gallery.get("c").templates[0].id
    assert ok("remove", path, "a").stdout.strip() == "removed 1 identity with 3 templates"
    result = ok("remove", path, "--id", "b", "--template", single)  # --id still works
    assert result.stdout.strip() == "removed 1 identity with 1 template and 1 single template"
    missing = cli("remove", path, "a")
    assert missing.exit_code == 1 and "not enrolled: a" in missing.output


def test_human_output_times_hints_and_progress(shared, tmp_path):
    path = tmp_path / "people.gallery"
    ok("create", path)
    ok("enroll", path, "--folder", shared / KNN / "train")
    pair = cli("enroll", path, "--id", "pair", shared / KNN / "test/kit_with_rose.jpg")
    assert pair.exit_code == 1 and "2 faces found" in pair.output and "--select center" in pair.output

    found = ok("search", path, shared / KNN / "test/obama1.jpg", "-k", "3").stdout.splitlines()
    assert found[0].endswith("obama1.jpg: obama (score %s)" % found[1].split()[2])
    assert [line.split()[:2] for line in found[1:]][0] == ["1.", "obama"]
    assert [line.split()[0] for line in found[1:]] == ["1.", "2.", "3."]  # all k matches, not only the best

    several = ok("search", path, shared / KNN / "test/obama1.jpg", shared / KNN / "test/alex_lacamoire1.jpg",
                 "--json")
    assert len(json.loads(several.stdout)) == 2
    assert "searching" in several.stderr and "2/2" in several.stderr  # progress on stderr, JSON on stdout

    record = json.loads(ok("get", path, "obama").stdout)
    assert ISO_UTC.match(record["created_at"]) and ISO_UTC.match(record["updated_at"])
    assert all(ISO_UTC.match(t["created_at"]) for t in record["templates"])
    assert ISO_UTC.match(json.loads(ok("stats", path, "--json").stdout)["created_at"])
    assert re.search(r"^created_at: \d{4}-\d\d-\d\dT", ok("stats", path).stdout, re.M)


def test_an_unknown_backend_option_is_one_line_not_a_traceback(tmp_path):
    from facetrust.errors import ConfigError

    path = tmp_path / "g.db"
    ok("create", path, "--recognizer", "dlib-resnet")
    for command in (("stats", path), ("create", tmp_path / "h.db")):
        result = cli(*command, "--backend-opt", "x=1")
        assert result.exit_code == 1 and "has no option 'x'" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "h.db").exists()
    with pytest.raises(ConfigError, match="no option 'schema'"):
        Gallery.open(path, schema="staff")
