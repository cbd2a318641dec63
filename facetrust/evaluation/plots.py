"""PNG plots of evaluation results (ROC, DET, score histograms, CMC).

Every curve plot takes a ``{label: data}`` mapping so several configurations
(``--compare``, fusion) are overlaid on one figure. Figures are built with
``matplotlib.figure.Figure`` and the Agg canvas directly: no pyplot, no global
backend switch, safe in worker threads. Each PNG is written atomically
(temporary file in the same folder, then ``os.replace``) and measures
``size`` inches x ``dpi`` (default 6.4 x 4.8 in at 100 dpi = 640 x 480 px).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from facetrust.errors import ConfigError

DEFAULT_SIZE: tuple[float, float] = (6.4, 4.8)
DEFAULT_DPI = 100
FAR_MIN = 1e-5


def _figure(size: tuple[float, float], dpi: int) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=dpi)
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Any, path: str | os.PathLike[str]) -> Path:
    """Write the figure as PNG atomically; the pixel size is exactly size x dpi."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            figure.savefig(stream, format="png", dpi=figure.dpi)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _check_curves(curves: Mapping[str, Any], what: str) -> None:
    if not curves:
        raise ConfigError(f"nothing to plot: no {what} curves given")


def _finish_axes(axes: Any, title: str, xlabel: str, ylabel: str) -> None:
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.grid(True, which="major", alpha=0.5)
    axes.grid(True, which="minor", alpha=0.15)
    axes.legend(loc="best", fontsize="small")


def plot_roc(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], path: str | os.PathLike[str],
             title: str = "ROC", size: tuple[float, float] = DEFAULT_SIZE, dpi: int = DEFAULT_DPI,
             axis_labels: tuple[str, str] = ("False accept rate (FAR)", "True accept rate (TAR)")) -> Path:
    """ROC curves {label: (far, tar)} on a log FAR axis; returns the PNG path.

    ``axis_labels`` (x, y) name the rates in the caller's terms (e.g. detection tasks).

    Points with FAR = 0 cannot sit on a log axis and are not drawn. The FAR axis
    starts at the decade of the smallest positive FAR (at least 1e-5); the TAR axis
    at the tenth below the lowest TAR drawn, so near-perfect curves stay readable.
    """
    _check_curves(curves, "ROC")
    figure = _figure(size, dpi)
    axes = figure.add_subplot()
    smallest_far, lowest_tar = 1e-1, 1.0
    for label, (far, tar) in curves.items():
        far, tar = np.asarray(far, dtype=float), np.asarray(tar, dtype=float)
        keep = far > 0
        axes.plot(far[keep], tar[keep], label=str(label), linewidth=1.5)
        if keep.any():
            smallest_far = min(smallest_far, float(far[keep].min()))
            lowest_tar = min(lowest_tar, float(tar[keep].min()))
    axes.set_xscale("log")
    axes.set_xlim(max(FAR_MIN, 10.0 ** np.floor(np.log10(smallest_far))), 1.0)
    axes.set_ylim(max(0.0, np.floor(lowest_tar * 10) / 10 - 0.05), 1.005)
    _finish_axes(axes, title, *axis_labels)
    return _save(figure, path)


def plot_det(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], path: str | os.PathLike[str],
             title: str = "DET", size: tuple[float, float] = DEFAULT_SIZE, dpi: int = DEFAULT_DPI) -> Path:
    """DET curves {label: (far, frr)} on log-log axes (lower-left is better); returns the PNG path.

    Points where FAR or FRR is 0 are not drawn. Each axis starts at the decade
    of its smallest positive rate (at least 1e-5).
    """
    _check_curves(curves, "DET")
    figure = _figure(size, dpi)
    axes = figure.add_subplot()
    smallest, smallest_far = 1e-2, 1e-1
    for label, (far, frr) in curves.items():
        far, frr = np.asarray(far, dtype=float), np.asarray(frr, dtype=float)
        keep = (far > 0) & (frr > 0)
        axes.plot(far[keep], frr[keep], label=str(label), linewidth=1.5)
        if keep.any():
            smallest = min(smallest, float(frr[keep].min()))
            smallest_far = min(smallest_far, float(far[keep].min()))
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlim(max(FAR_MIN, 10.0 ** np.floor(np.log10(smallest_far))), 1.0)
    axes.set_ylim(max(FAR_MIN, 10.0 ** np.floor(np.log10(smallest))), 1.0)
    _finish_axes(axes, title, "False accept rate (FAR)", "False reject rate (FRR)")
    return _save(figure, path)


def plot_score_histograms(genuine: Sequence[float], impostor: Sequence[float], threshold: float | None,
                          path: str | os.PathLike[str], title: str = "Score distributions",
                          size: tuple[float, float] = DEFAULT_SIZE, dpi: int = DEFAULT_DPI,
                          bins: int = 60) -> Path:
    """Density histograms of genuine and impostor scores on shared bins, threshold as a vertical line."""
    genuine, impostor = np.asarray(genuine, dtype=float), np.asarray(impostor, dtype=float)
    if genuine.size == 0 and impostor.size == 0:
        raise ConfigError("nothing to plot: no genuine or impostor scores")
    both = np.concatenate([genuine, impostor])
    if not np.all(np.isfinite(both)):
        raise ConfigError("scores to plot contain NaN or infinity")
    low, high = float(both.min()), float(both.max())
    if high == low:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, bins + 1)
    figure = _figure(size, dpi)
    axes = figure.add_subplot()
    for scores, label, colour in ((genuine, "genuine", "tab:green"), (impostor, "impostor", "tab:red")):
        if scores.size:
            axes.hist(scores, bins=edges, density=True, alpha=0.5, color=colour, label=f"{label} (n={scores.size})")
    if threshold is not None:
        axes.axvline(float(threshold), color="black", linestyle="--", linewidth=1.2,
                     label=f"threshold {float(threshold):.4g}")
    _finish_axes(axes, title, "Similarity score", "Density")
    return _save(figure, path)


def plot_cmc(curves: Mapping[str, Sequence[float]], path: str | os.PathLike[str],
             title: str = "CMC", size: tuple[float, float] = DEFAULT_SIZE, dpi: int = DEFAULT_DPI) -> Path:
    """Cumulative match characteristic {label: rates at ranks 1..k}; returns the PNG path."""
    _check_curves(curves, "CMC")
    figure = _figure(size, dpi)
    axes = figure.add_subplot()
    longest = 1
    for label, rates in curves.items():
        rates = np.asarray(rates, dtype=float)
        ranks = np.arange(1, len(rates) + 1)
        longest = max(longest, len(rates))
        axes.plot(ranks, rates, marker="o" if len(rates) <= 30 else None, markersize=3, label=str(label))
    axes.set_xlim(0.5, longest + 0.5)
    axes.set_ylim(None, 1.005)
    axes.xaxis.get_major_locator().set_params(integer=True)
    _finish_axes(axes, title, "Rank", "Identification rate")
    return _save(figure, path)
