"""Evaluation results → report folder: PNG plots plus report.json / .md / .html."""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from facetrust.evaluation import plots
from facetrust.evaluation.metrics import det_curve, far_key, roc
from facetrust.evaluation.report import HeadlineRow, headline_rows, metric, plus_minus, write_report

#: FARs the verification headline shows (every FAR measured is in the details and JSON).
HEADLINE_FARS = (1e-3, 1e-4)


def _mean(path: str) -> Any:
    def read(metrics: dict[str, Any]) -> float | None:
        values = metric(path)(metrics)
        return float(np.mean(values)) if values else None
    return read


def _pairs(metrics: dict[str, Any]) -> str | None:
    if metrics.get("pairs_scored") is None:
        return None
    return f"{metrics['pairs_scored']} ({metrics.get('n_genuine')} / {metrics.get('n_impostor')})"


def rate_label(rate: float) -> str:
    """``1e-3`` for powers of ten, else ``0.05``."""
    exponent = round(math.log10(rate))
    return f"1e{exponent}" if math.isclose(rate, 10.0 ** exponent) else f"{rate:g}"


def verification_headline(folds: int) -> list[HeadlineRow]:
    """The first rows of a verification report and of ``facetrust eval lfw|pairs``."""
    tar_rows = [HeadlineRow(f"TAR @ FAR={rate_label(far)}", metric(f"tar_at_far/{far_key(far)}")) for far in HEADLINE_FARS]
    tar_thresholds = [HeadlineRow(f"threshold @ FAR={rate_label(far)}", metric(f"tar_at_far_threshold/{far_key(far)}"))
                      for far in HEADLINE_FARS]
    return [
        HeadlineRow(f"accuracy ± std ({folds}-fold)", plus_minus("accuracy", "accuracy_std")),
        *tar_rows,
        HeadlineRow("EER", metric("eer")),
        HeadlineRow("AUC", metric("auc")),
        HeadlineRow("threshold (mean of the folds')", _mean("fold_thresholds")),
        *tar_thresholds,
        HeadlineRow("pairs scored (genuine / impostor)", _pairs),
        HeadlineRow("pairs skipped (no face)", metric("pairs_skipped")),
        HeadlineRow("failure to detect (images)", metric("failure_to_detect")),
        HeadlineRow("accuracy without fallback", plus_minus("without_fallback/accuracy", "without_fallback/accuracy_std")),
        HeadlineRow("images/s (embedded this run)", metric("images_per_second")),
    ]


IDENTIFICATION_HEADLINE = headline_rows([
    ("rank-1", "rank1"), ("rank-5", "rank5"), ("DIR @ FPIR=1e-2", "dir_at_fpir/0.01"),
    ("DIR @ FPIR=1e-1", "dir_at_fpir/0.1"), ("threshold @ FPIR=1e-2", "dir_at_fpir_threshold/0.01"),
    ("gallery identities", "gallery_identities"), ("mated probes", "mated_probes"),
    ("non-mated probes", "nonmated_probes"), ("gallery not enrolled (no face)", "gallery_not_enrolled"),
    ("mated not acquired (no face)", "mated_not_acquired"), ("images/s (embedded this run)", "images_per_second"),
])

IDENTIFICATION_LEGEND = ["DIR @ FPIR=f is measured only with at least 1/f non-mated probes; images/s is – when "
                         "every embedding came from the cache."]


def verification_legend(metrics: dict[str, Any]) -> list[str]:
    """Why headline cells of a verification result are "–"."""
    impostors = max((m.get("n_impostor") or 0 for m in metrics.values()), default=0)
    fusion = ", and for the fusion (it embeds nothing itself)" if "fusion" in metrics else ""
    return [f"TAR @ FAR=f is measured only with at least 1/f impostor pairs (this run: {impostors}); "
            f"images/s is – when every embedding came from the cache{fusion}."]


def fold_count(metrics: dict[str, Any]) -> int:
    """Cross-validation folds behind a verification result."""
    return max((len(m.get("fold_accuracies") or []) for m in metrics.values()), default=0)


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
    metrics = result["metrics"]
    return _write(result, out_dir, figures, verification_headline(fold_count(metrics)), title,
                  verification_legend(metrics))


def write_identification_report(result: dict[str, Any], out_dir: str | os.PathLike[str],
                                title: str) -> dict[str, Path]:
    out_dir = Path(out_dir)
    curves = {label: entry["cmc"] for label, entry in result["metrics"].items()}
    figures = {"CMC": plots.plot_cmc(curves, out_dir / "cmc.png", title=f"{title} — CMC")}
    return _write(result, out_dir, figures, IDENTIFICATION_HEADLINE, title, IDENTIFICATION_LEGEND)


def _write(result: dict[str, Any], out_dir: Path, figures: dict[str, Path], headline: list[HeadlineRow],
           title: str, legend: list[str]) -> dict[str, Path]:
    json_path, md_path, html_path = write_report(result, out_dir, figures, headline=headline, title=title,
                                                 legend=legend)
    return {"json": json_path, "markdown": md_path, "html": html_path,
            **{f"plot_{_safe(name)}": path for name, path in figures.items()}}
