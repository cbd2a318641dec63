"""Galleries built before the default became the ``balanced`` preset (issue 15): a gallery made
with dlib-resnet keeps working with no options (it brings its own preset), and a request for
another recognizer is refused with an error naming the preset to use."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from facetrust.analyzer import FaceAnalyzer
from facetrust.errors import ModelMismatchError
from facetrust.gallery import Gallery

EXAMPLES = Path("faces/ageitgey_face_recognition/examples")


def cli(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "facetrust.cli.main", *map(str, args)], capture_output=True,
                          text=True, env=dict(os.environ), timeout=300)


@pytest.fixture()
def dlib_gallery(shared: Path, tmp_path: Path) -> Path:
    """A real gallery of dlib-resnet templates, as the old default made them."""
    location = tmp_path / "old.gallery"
    with Gallery.create(location, "dlib-resnet") as gallery:
        gallery.enroll("obama", [shared / "data" / EXAMPLES / "obama.jpg"])
        gallery.enroll("biden", [shared / "data" / EXAMPLES / "biden.jpg"])
    return location


def test_old_gallery_uses_its_own_preset(dlib_gallery: Path, shared: Path) -> None:
    with Gallery.open(dlib_gallery, readonly=True) as gallery:
        assert (gallery.analyzer.config.preset, gallery.analyzer.config.detector,
                gallery.analyzer.config.recognizer) == ("dlib", "dlib-hog", "dlib-resnet")
        assert gallery.search(shared / "data" / EXAMPLES / "obama2.jpg").identity == "obama"


def test_mismatching_recognizer_names_the_preset(dlib_gallery: Path) -> None:
    with pytest.raises(ModelMismatchError, match=r"built with dlib-resnet; open it with --preset dlib "
                                                 r"\(or --recognizer dlib-resnet\)"):
        Gallery.open(dlib_gallery, analyzer=FaceAnalyzer())


def test_cli_old_gallery_just_works_and_refuses_another_preset(dlib_gallery: Path, shared: Path) -> None:
    probe = shared / "data" / EXAMPLES / "obama2.jpg"
    done = cli("gallery", "search", dlib_gallery, probe)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{probe}: obama (score")
    enrolled = cli("gallery", "enroll", dlib_gallery, "--id", "obama-hd", shared / "data" / EXAMPLES / "obama-480p.jpg")
    assert enrolled.returncode == 0, enrolled.stderr
    refused = cli("gallery", "search", "--preset", "balanced", dlib_gallery, probe)
    assert refused.returncode == 1
    errors = [line for line in refused.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: ")
    assert f"gallery {dlib_gallery.name} was built with dlib-resnet; open it with --preset dlib" in errors[0]
    assert cli("gallery", "search", "--preset", "dlib", dlib_gallery, probe).returncode == 0


def test_new_gallery_takes_the_default_preset(tmp_path: Path, shared: Path) -> None:
    done = cli("gallery", "create", tmp_path / "new.gallery")
    assert done.returncode == 0, done.stderr
    assert "edgeface-xs" in done.stdout and "512-d" in done.stdout
    with Gallery.open(tmp_path / "new.gallery") as gallery:
        gallery.enroll("obama", [shared / "data" / EXAMPLES / "obama.jpg"])
        assert gallery.analyzer.config.preset == "balanced"
        assert gallery.search(shared / "data" / EXAMPLES / "obama2.jpg").identity == "obama"
    fast = cli("gallery", "create", "--preset", "fast", tmp_path / "fast.gallery")
    assert fast.returncode == 0 and "edgeface-xxs" in fast.stdout
