"""Evaluation results → report folder: PNG plots plus report.json / .md / .html."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from facetrust.evaluation import plots
from facetrust.evaluation.metrics import det_curve, roc
from facetrust.evaluation.report import write_report


def _safe(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in label)


def write_verification_report(result: dict[str, Any], run: Any, out_dir: str | os.PathLike[str],
                              title: str) -> dict[str, Path]:
    """ROC and DET (every configuration overlaid), one score histogram per configuration
    with the mean of its cross-validated thresholds, then the report files."""
    out_dir = Path(out_dir)
    rocs, dets, figures = {}, {}, {}
    for label, scored in run.with_fallback.items():
        far, tar, _ = roc(scored.scores, scored.same)
        rocs[label] = (far, tar)
        dets[label] = det_curve(scored.scores, scored.same)
        threshold = float(np.mean(result["metrics"][label]["fold_thresholds"]))
        figures[f"Scores: {label}"] = plots.plot_score_histograms(
            scored.scores[scored.same], scored.scores[~scored.same], threshold,
            out_dir / f"scores_{_safe(label)}.png", title=f"{title} — {label} (threshold: mean of folds)")
    figures = {"ROC": plots.plot_roc(rocs, out_dir / "roc.png", title=f"{title} — ROC"),
               "DET": plots.plot_det(dets, out_dir / "det.png", title=f"{title} — DET"), **figures}
    return _write(result, out_dir, figures)


def write_identification_report(result: dict[str, Any], out_dir: str | os.PathLike[str],
                                title: str) -> dict[str, Path]:
    out_dir = Path(out_dir)
    curves = {label: entry["cmc"] for label, entry in result["metrics"].items()}
    figures = {"CMC": plots.plot_cmc(curves, out_dir / "cmc.png", title=f"{title} — CMC")}
    return _write(result, out_dir, figures)


def _write(result: dict[str, Any], out_dir: Path, figures: dict[str, Path]) -> dict[str, Path]:
    json_path, md_path, html_path = write_report(result, out_dir, figures)
    return {"json": json_path, "markdown": md_path, "html": html_path,
            **{f"plot_{_safe(name)}": path for name, path in figures.items()}}
