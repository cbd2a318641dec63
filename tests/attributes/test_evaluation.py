"""``facetrust eval attributes`` on a small real UTKFace subset (research data, read from ../shared)."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from facetrust.attributes.evaluation import bootstrap_ci, evaluate_attributes, write_attribute_report
from facetrust.cli.main import app
from facetrust.forensics.cache import ScoreCache


@pytest.fixture(scope="module")
def labels(shared, tmp_path_factory):
    """Two adults per gender from two race groups of the balanced subset (8 images)."""
    with (shared / "data/utkface/labels.csv").open() as stream:
        rows = [r for r in csv.DictReader(stream) if r["in_repo_random_200"] and r["age"] and 25 <= int(r["age"]) <= 60]
    picked = []
    for gender in ("female", "male"):
        for race in ("black", "asian"):
            picked += [r for r in rows if r["gender"] == gender and r["race"] == race][:2]
    path = tmp_path_factory.mktemp("utk") / "labels.csv"
    with path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(picked[0]))
        writer.writeheader()
        writer.writerows(picked)
    return path


def test_metrics_per_group_with_intervals_and_report(labels, shared, tmp_path):
    with ScoreCache(tmp_path / "cache.sqlite") as cache:
        result, items, predictions = evaluate_attributes(labels, shared / "data/utkface", "dlib-hog", cache,
                                                         progress=False)
        rerun = evaluate_attributes(labels, shared / "data/utkface", "dlib-hog", cache, progress=False)[2]
    assert rerun == predictions  # the second run is served from the cache
    metrics = result["metrics"]
    assert metrics["images"] == 8
    age = metrics["age"]
    assert age["mae"]["n"] == sum("age" in p for p in predictions) > 0
    assert age["mae"]["ci95"][0] <= age["mae"]["mean"] <= age["mae"]["ci95"][1]
    assert set(age["mae_by_race"]) == {"asian", "black"} and set(age["mae_by_gender"]) == {"female", "male"}
    assert set(age["range_coverage_by_race"]) == {"asian", "black"} and set(age["mae_by_age_band"]) == {"adult"}
    assert age["range_width"]["mean"] > 0 and 0 <= age["range_coverage"]["mean"] <= 1
    assert np.sum(age["confusion_by_age_bin"]["rows_true_columns_predicted"]) == age["mae"]["n"]
    gender = metrics["gender"]
    confusion = gender["confusion"]
    assert sum(sum(row.values()) for row in confusion.values()) == gender["accuracy"]["n"]
    correct = confusion["true_female"]["predicted_female"] + confusion["true_male"]["predicted_male"]
    assert gender["accuracy"]["mean"] == pytest.approx(correct / gender["accuracy"]["n"], abs=1e-4)
    paths = write_attribute_report(result, items, predictions, tmp_path / "report")
    assert json.loads(paths["json"].read_text())["metrics"]["images"] == 8
    assert (tmp_path / "report" / "age_scatter.png").stat().st_size > 0
    assert (tmp_path / "report" / "per_group.png").stat().st_size > 0


def test_bootstrap_interval_of_a_known_sample():
    values = np.array([0.0] * 50 + [1.0] * 50)
    low, high = bootstrap_ci(values)
    assert low < 0.5 < high and high - low < 0.3
    assert bootstrap_ci(np.array([])) is None


def test_cli_reports_bad_labels_in_one_line(tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("file,age\nmissing.jpg,30\n")
    result = CliRunner().invoke(app, ["eval", "attributes", "--labels", str(labels), "--cache", str(tmp_path / "c")])
    assert result.exit_code != 0 and "does not exist" in result.output and "Traceback" not in result.output


def test_another_age_and_gender_model_and_one_half(labels, shared, tmp_path):
    from facetrust.attributes.age_range import load_age_range

    with ScoreCache(tmp_path / "cache.sqlite") as cache:
        dlib = evaluate_attributes(labels, shared / "data/utkface", "dlib-hog", cache, progress=False)[2]
        result, items, omz = evaluate_attributes(labels, shared / "data/utkface", "dlib-hog", cache, progress=False,
                                                 age_model="age-omz", gender_model="gender-omz")
        half = evaluate_attributes(labels, shared / "data/utkface", "dlib-hog", cache, progress=False, half="test")[1]
    assert [p["ears"] for p in omz] == [p["ears"] for p in dlib]  # the shared record is reused
    assert [p["age"] for p in omz] != [p["age"] for p in dlib]
    assert result["configuration"]["age_model"] == "age-omz"
    estimates = np.array([p["age"]["value"] for p in omz if "age" in p])
    true = np.array([i.age for i, p in zip(items, omz) if "age" in p])
    low, high = load_age_range("age-omz").bounds(estimates)
    assert result["metrics"]["age"]["range_coverage"]["mean"] == pytest.approx(((true >= low) & (true <= high)).mean())
    assert 0 < len(half) < len(items) and all(i.half == "test" for i in half)


def test_cli_refuses_a_model_of_the_wrong_kind_and_an_unknown_half(labels, tmp_path):
    runner = CliRunner()
    for option, message in ((["--age-model", "gender"], "not an age model"), (["--gender-model", "age"], "not a gender"),
                            (["--half", "third"], "unknown half")):
        result = runner.invoke(app, ["eval", "attributes", "--labels", str(labels), "--cache", str(tmp_path / "c"),
                                     *option])
        assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output
