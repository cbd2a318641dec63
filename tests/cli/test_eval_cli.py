"""``facetrust eval``: pair lists and identification end to end on real images, reports, bad input."""
from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from facetrust.cli.main import app
from facetrust.defaults import DEFAULT_DETECTOR, DEFAULT_RECOGNIZER

runner = CliRunner()
TRAIN = "faces/ageitgey_face_recognition/examples/knn_examples/train"


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def pairs_csv(shared: Path, tmp_path_factory) -> Path:
    """Every pair of 8 one-person photos of 4 people (28 pairs, 4 genuine)."""
    root = shared / "data" / TRAIN
    images = sorted(p for p in root.glob("*/*") if p.parent.name != "alex_lacamoire")
    folder = tmp_path_factory.mktemp("pairs")
    lines = ["path_a,path_b,same"]
    for a, b in itertools.combinations(images, 2):
        lines.append(f"{a},{b},{int(a.parent.name == b.parent.name)}")
    (folder / "pairs.csv").write_text("\n".join(lines) + "\n")
    return folder / "pairs.csv"


#: The configuration `facetrust eval` measures when given no detector, recognizer or preset.
DEFAULT = f"{DEFAULT_DETECTOR}+{DEFAULT_RECOGNIZER}"


def test_eval_pairs_json_and_report(pairs_csv: Path, tmp_path: Path):
    result = invoke("eval", "pairs", "--csv", pairs_csv, "--json", "--report", tmp_path / "report",
                    "--cache", tmp_path / "cache.sqlite", "--workers", 1)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    metrics = out["metrics"][DEFAULT]
    assert {"accuracy", "accuracy_std", "auc", "eer", "tar_at_far", "failure_to_detect"} <= set(metrics)
    assert metrics["n_genuine"] == 4 and metrics["n_impostor"] == 24
    assert metrics["tar_at_far"]["0.01"] is None  # 1e-2 is below 1/24: reported as not measurable
    # These are four different well-known people in frontal photos: the default separates them (as dlib did, AUC 1.0).
    assert metrics["auc"] >= 0.95
    files = out["configuration"][DEFAULT]["model_files"]
    assert any(len(sha) == 64 for sha in files.values())
    assert len(out["dataset"]["images_sha256"]) == 64
    for name in ("json", "markdown", "html", "plot_ROC", "plot_DET"):
        assert Path(out["report"][name]).is_file(), name
    with Image.open(out["report"]["plot_ROC"]) as png:
        assert png.format == "PNG" and png.size == (640, 480)
    html = Path(out["report"]["html"]).read_text()
    assert "roc.png" in html and "det.png" in html and f"scores_{DEFAULT.replace('+', '_')}.png" in html
    assert json.loads(Path(out["report"]["json"]).read_text())["metrics"] == out["metrics"]


def test_eval_pairs_compare_overlays_two_configurations(pairs_csv: Path, tmp_path: Path):
    result = invoke("eval", "pairs", "--csv", pairs_csv, "--compare", "yunet:mobilefacenet", "--fusion",
                    "--cache", tmp_path / "cache.sqlite", "--workers", 1)
    assert result.exit_code == 0, result.output
    for label in (DEFAULT, "yunet+mobilefacenet", "fusion"):
        assert label in result.stdout


def test_eval_pairs_table_names_metrics(pairs_csv: Path, tmp_path: Path):
    result = invoke("eval", "pairs", "--csv", pairs_csv, "--cache", tmp_path / "cache.sqlite", "--workers", 1)
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.stdout and "EER" in result.stdout


@pytest.mark.parametrize(
    "content, message",
    [
        ("a.jpg,b.jpg\n", ":1: expected 3 columns"),
        ("path_a,path_b,same\n{img},{img},maybe\n", ":2: label 'maybe'"),
        ("{img},{missing},1\n", ":1: image not found"),
        ("{img},{img},1\n{img},{img},1\n", "only one class"),
        ("", "no usable pairs"),
    ],
)
def test_eval_pairs_bad_lists(shared: Path, tmp_path: Path, content: str, message: str):
    image = next((shared / "data" / TRAIN / "obama").glob("*.jpg"))
    csv_file = tmp_path / "pairs.csv"
    csv_file.write_text(content.format(img=image, missing=tmp_path / "gone.jpg"))
    result = invoke("eval", "pairs", "--csv", csv_file, "--cache", tmp_path / "cache.sqlite")
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_eval_pairs_skip_missing_counts_them(pairs_csv: Path, tmp_path: Path):
    csv_file = tmp_path / "pairs.csv"
    csv_file.write_text(pairs_csv.read_text() + f"{tmp_path / 'gone.jpg'},{tmp_path / 'gone2.jpg'},0\n")
    result = invoke("eval", "pairs", "--csv", csv_file, "--skip-missing", "--json", "--cache",
                    tmp_path / "cache.sqlite", "--workers", 1)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["dataset"]["skipped_missing"] == 1 and out["dataset"]["pairs"] == 28
    assert sum("image not found" in note for note in out["notes"]) == 1


def test_eval_identification_on_lfw_subset(shared: Path, tmp_path: Path):
    args = ["eval", "identification", "--root", shared / "data" / "lfw", "--max-people", 60, "--seed", 1,
            "--centre-fallback", "--json", "--cache", tmp_path / "cache.sqlite", "--workers", 2]
    result = invoke(*args, "--report", tmp_path / "report")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    metrics = out["metrics"][DEFAULT]
    cmc = metrics["cmc"]
    assert cmc[0] == metrics["rank1"] and all(a <= b for a, b in zip(cmc, cmc[1:]))
    assert out["dataset"]["gallery_identities"] == metrics["gallery_identities"] >= 5
    assert set(metrics["dir_at_fpir"]) == {"0.01", "0.1"}
    assert Path(out["report"]["plot_CMC"]).is_file()
    again = json.loads(invoke(*args).stdout)  # same seed: same split, numbers from the cache
    assert again["metrics"][DEFAULT]["cmc"] == cmc
    assert again["metrics"][DEFAULT]["images_per_second"] is None


def test_eval_identification_refuses_a_folder_without_identities(tmp_path: Path):
    result = invoke("eval", "identification", "--root", tmp_path)
    assert result.exit_code != 0 and "no identity has 2 or more images" in result.output
