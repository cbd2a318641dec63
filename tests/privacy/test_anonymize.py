"""Anonymisation on real photos: faces made unrecognisable, files written, bad input refused."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from facetrust.cli.main import app
from facetrust.errors import ConfigError
from facetrust.privacy.anonymize import anonymize_rgb, evaluate_anonymization

PEOPLE = ["Colin_Powell", "George_W_Bush", "Gerhard_Schroeder", "Tony_Blair"]


@pytest.mark.parametrize("method", ["blur", "pixelate", "mask"])
def test_anonymised_faces_no_longer_match_their_originals(method, analyzer, shared: Path):
    paths = [shared / "data" / "lfw" / name / f"{name}_0001.jpg" for name in PEOPLE]
    result = evaluate_anonymization(paths, analyzer, method)
    assert result["images"] == 4 and result["miss_rate"] == 0.0
    assert result["reidentification_rate"] == 0.0


def test_only_the_face_region_changes(analyzer, shared: Path):
    rgb = analyzer.load(shared / "data" / "lfw" / PEOPLE[0] / f"{PEOPLE[0]}_0001.jpg")
    box = analyzer.detect_rgb(rgb)[0].box
    hidden = anonymize_rgb(rgb, [box], "mask", margin=0.0)
    x1, y1, x2, y2 = (int(v) for v in box)
    assert (hidden[y1 + 1:y2 - 1, x1 + 1:x2 - 1] == 0).all()
    outside = np.ones(rgb.shape[:2], bool)
    outside[max(0, y1 - 1):y2 + 2, max(0, x1 - 1):x2 + 2] = False
    assert (hidden[outside] == rgb[outside]).all()
    with pytest.raises(ConfigError, match="unknown anonymisation method"):
        anonymize_rgb(rgb, [box], "swirl")
    with pytest.raises(ConfigError, match="margin"):
        anonymize_rgb(rgb, [box], "blur", margin=-1)


def test_cli_writes_anonymised_copies(shared: Path, tmp_path: Path):
    source = shared / "data" / "faces" / "ageitgey_face_recognition"
    images = sorted(source.rglob("*.jpg"))[:2]
    runner = CliRunner()
    result = runner.invoke(app, ["anonymize", *map(str, images), "--out", str(tmp_path / "out"),
                                 "--method", "pixelate", "--json"])
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout)["written"]
    assert len(written) == 2 and all(Path(p).is_file() for p in written)
    bad = runner.invoke(app, ["anonymize", str(images[0]), "--out", str(tmp_path / "x"), "--method", "swirl"])
    assert bad.exit_code == 1 and "unknown anonymisation method" in bad.output
    assert not (tmp_path / "x").exists()


def test_inputs_named_alike_in_two_folders_keep_separate_copies(analyzer, shared: Path, tmp_path: Path):
    from facetrust.privacy.anonymize import anonymize_files

    faces = shared / "data" / "faces" / "ageitgey_face_recognition"
    first, second = sorted(faces.rglob("*.jpg"))[:2]
    for folder, image in (("a", first), ("b", second)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.jpg").write_bytes(image.read_bytes())
    report = anonymize_files([tmp_path / "a" / "x.jpg", tmp_path / "b" / "x.jpg"], tmp_path / "out", analyzer)
    assert sorted(report.written) == [str(tmp_path / "out" / "a" / "x.jpg"), str(tmp_path / "out" / "b" / "x.jpg")]
    assert not report.failed
    copies = [Image.open(tmp_path / "out" / f / "x.jpg") for f in ("a", "b")]
    assert [c.format for c in copies] == ["JPEG", "JPEG"]
    assert np.asarray(copies[0]).shape != np.asarray(copies[1]).shape or \
        not np.array_equal(np.asarray(copies[0]), np.asarray(copies[1]))
