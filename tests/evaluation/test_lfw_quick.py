"""Quick LFW runs: the fold count comes from the pair file (or --folds), --max-pairs takes a
balanced subset, and the report opens with a headline table and a DET plot that has data."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from facetrust.cli.main import app
from facetrust.errors import ConfigError
from facetrust.evaluation.lfw import fold_count, read_lfw_pairs, subset_pairs

runner = CliRunner()


@pytest.fixture(scope="module")
def lfw_pairs(shared: Path):
    return read_lfw_pairs(shared / "data" / "lfw_pairs.txt", shared / "data" / "lfw")


def test_subset_takes_balanced_pairs_from_the_first_folds(lfw_pairs) -> None:
    assert fold_count(lfw_pairs) == 10
    subset = subset_pairs(lfw_pairs, folds=2, max_pairs=40)
    assert len(subset) == 40 and fold_count(subset) == 2
    for fold in (0, 1):
        in_fold = [p for p in subset if p.fold == fold]
        assert sum(p.same for p in in_fold) == 10 and sum(not p.same for p in in_fold) == 10
    every_fold = subset_pairs(lfw_pairs, max_pairs=100)  # 5 same + 5 different in each of the 10 folds
    assert len(every_fold) == 100 and fold_count(every_fold) == 10
    assert every_fold[:5] == lfw_pairs[:5]  # the first pairs in file order: reproducible


@pytest.mark.parametrize("folds, max_pairs, message", [
    (1, None, "--folds must be between 2 and 10"), (11, None, "--folds must be between 2 and 10"),
    (2, 3, "--max-pairs must be at least 4"),
])
def test_subset_rejects_unusable_sizes(lfw_pairs, folds, max_pairs, message) -> None:
    with pytest.raises(ConfigError, match=message):
        subset_pairs(lfw_pairs, folds=folds, max_pairs=max_pairs)


def _curve_pixels(png: Path, colour: tuple[int, int, int]) -> int:
    with Image.open(png) as image:
        pixels = np.asarray(image.convert("RGB")).astype(int)
    return int((np.abs(pixels - np.array(colour)).sum(axis=2) < 30).sum())


def test_quick_lfw_run_report_has_headline_legend_and_a_det_curve(shared: Path, tmp_path: Path) -> None:
    # A 2-fold pair file in the View-2 format: its own header says 2 folds of 10 + 10 pairs.
    lines = (shared / "data" / "lfw_pairs.txt").read_text().splitlines()
    fold_lines = lambda fold: lines[1 + 600 * fold: 11 + 600 * fold] + lines[301 + 600 * fold: 311 + 600 * fold]
    pair_file = tmp_path / "pairs_2fold.txt"
    pair_file.write_text("\n".join(["2\t10", *fold_lines(0), *fold_lines(1)]) + "\n")
    report = tmp_path / "report"
    result = runner.invoke(app, ["eval", "lfw", "--root", str(shared / "data" / "lfw"), "--pairs", str(pair_file),
                                 "-d", "yunet", "-r", "mobilefacenet", "--max-pairs", "24", "--workers", "1",
                                 "--cache", str(tmp_path / "cache.sqlite"), "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert "LFW View 2 (2-fold)" in result.stdout and "10-fold" not in result.stdout
    assert "accuracy ± std (2-fold)" in result.stdout

    data = json.loads((report / "report.json").read_text())
    assert data["dataset"]["folds"] == 2 and data["dataset"]["folds_in_file"] == 2
    assert data["dataset"]["max_pairs"] == 24 and data["dataset"]["pairs"] == 24
    assert data["notes"][0].startswith("quick run: 24 of the file's 40 pairs")

    markdown = (report / "report.md").read_text()
    assert markdown.startswith("# LFW View 2 (2-fold)\n")
    assert markdown.index("## Summary") < markdown.index("## Plots") < markdown.index("## Details: metrics")
    summary = markdown[markdown.index("## Summary"):markdown.index("## Plots")]
    metrics = data["metrics"]["yunet+mobilefacenet"]
    accuracy = f"{metrics['accuracy']:.4f} ± {metrics['accuracy_std']:.4f}"
    assert f"| accuracy ± std (2-fold) | {accuracy} |" in summary
    assert "| TAR @ FAR=1e-3 | – |" in summary  # 12 impostor pairs cannot measure 1e-3 ...
    assert "“–”: not applicable or not measured" in summary  # ... and the legend says what – means
    assert "at least 1/f impostor pairs (this run: 12)" in summary
    import re

    assert not re.search(r"\bnull\b|\bNone\b", markdown.replace("(null in report.json)", ""))
    html = (report / "report.html").read_text()
    assert not re.search(r"<td>(null|None)</td>", html) and "<h2>Summary</h2>" in html

    # These 24 pairs separate perfectly (measured: EER 0), so no DET point has both rates above 0:
    # the case that used to give an empty plot. The curve is drawn on the zero-rate lines
    # (matplotlib's first colour, far more pixels than the legend swatch).
    assert metrics["eer"] == 0
    assert _curve_pixels(report / "det.png", (31, 119, 180)) > 300
    with Image.open(report / "det.png") as png:
        assert png.size == (640, 480)
