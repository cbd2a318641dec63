"""PNG plots of evaluation results (ROC, DET, score histograms, CMC).

Every curve plot takes a ``{label: data}`` mapping so several configurations
(``--compare``, fusion) are overlaid on one figure. Figures are built with
``matplotlib.figure.Figure`` and the Agg canvas directly: no pyplot, no global
backend switch, safe in worker threads. Each PNG is written atomically
(temporary file in the same folder, then ``os.replace``) and measures
``size`` inches x ``dpi`` (default 6.4 x 4.8 in at 100 dpi = 640 x 480 px); the layout is
constrained (labels and legends stay inside) and long titles wrap.

Error rates of 0 cannot sit on a log axis, yet they are the best part of a curve (a
perfectly separated score set has no point with both FAR and FRR above 0, so its DET
curve would be empty). ROC and DET plots draw a rate of 0 at half the smallest
measurable rate of that axis, on a dotted line labelled "FAR = 0" / "FRR = 0".
"""
from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from facetrust.errors import ConfigError
from facetrust.io.atomic import atomic_file

DEFAULT_SIZE: tuple[float, float] = (6.4, 4.8)
DEFAULT_DPI = 100
FAR_MIN = 1e-5


def _figure(size: tuple[float, float], dpi: int) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Any, path: str | os.PathLike[str]) -> Path:
    """Write the figure as PNG atomically; the pixel size is exactly size x dpi."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as stream:
        figure.savefig(stream, format="png", dpi=figure.dpi)
    return path


def _check_curves(curves: Mapping[str, Any], what: str) -> None:
    if not curves:
        raise ConfigError(f"nothing to plot: no {what} curves given")


def _zero_floor(rates: Sequence[np.ndarray], default: float) -> float:
    """Where a rate of 0 is drawn on a log axis: half the smallest positive rate of any curve."""
    positive = [float(r[r > 0].min()) for r in rates if np.any(r > 0)]
    return min(positive) / 2 if positive else default


def _mark_zero(axes: Any, floor: float, name: str, vertical: bool) -> None:
    """A dotted line where zero rates are drawn, labelled ``{name} = 0`` inside the axes."""
    style = {"color": "grey", "fontsize": "small", "textcoords": "offset points"}
    if vertical:
        axes.axvline(floor, color="grey", linestyle=":", linewidth=1)
        axes.annotate(f"{name} = 0", (floor, 0.5), xycoords=("data", "axes fraction"), xytext=(3, 0), rotation=90,
                      ha="left", va="center", **style)
    else:
        axes.axhline(floor, color="grey", linestyle=":", linewidth=1)
        axes.annotate(f"{name} = 0", (0.5, floor), xycoords=("axes fraction", "data"), xytext=(0, 3),
                      ha="center", va="bottom", **style)


def _axis_start(floor: float) -> float:
    """The lower end of a log axis: a little below the zero-rate line, so the line stays visible."""
    return floor / 2


def _finish_axes(axes: Any, title: str, xlabel: str, ylabel: str) -> None:
    width = max(20, int(axes.figure.get_figwidth() * 9))  # characters of a 12 pt title across the figure
    axes.set_title(textwrap.fill(title, width))
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

    A FAR of 0 is drawn at half the smallest positive FAR (dotted line, labelled 0), with
    the best TAR reached there; the FAR axis starts just below it; the TAR axis at the tenth below the lowest
    TAR drawn, so near-perfect curves stay readable.
    """
    _check_curves(curves, "ROC")
    arrays = {label: (np.asarray(far, dtype=float), np.asarray(tar, dtype=float)) for label, (far, tar) in curves.items()}
    floor = _zero_floor([far for far, _ in arrays.values()], FAR_MIN)
    figure = _figure(size, dpi)
    axes = figure.add_subplot()
    lowest_tar = 1.0
    for label, (far, tar) in arrays.items():
        zero = far == 0  # of these only the best TAR is a point worth drawing (TAR at FAR 0)
        x = np.r_[[floor] if zero.any() else [], far[~zero]]
        y = np.r_[[tar[zero].max()] if zero.any() else [], tar[~zero]]
        axes.plot(x, y, label=str(label), linewidth=1.5)
        if y.size:
            lowest_tar = min(lowest_tar, float(y.min()))
    axes.set_xscale("log")
    axes.set_xlim(_axis_start(floor), 1.0)
    axes.set_ylim(max(0.0, np.floor(lowest_tar * 10) / 10 - 0.05), 1.005)
    _mark_zero(axes, floor, "FAR", vertical=True)
    _finish_axes(axes, title, *axis_labels)
    return _save(figure, path)


def plot_det(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], path: str | os.PathLike[str],
             title: str = "DET", size: tuple[float, float] = DEFAULT_SIZE, dpi: int = DEFAULT_DPI) -> Path:
    """DET curves {label: (far, frr)} on log-log axes (lower-left is better); returns the PNG path.

    A rate of 0 is drawn at half the smallest positive rate of its axis (dotted lines,
    labelled 0), so a perfectly separated score set shows as a corner instead of nothing.
    Each axis starts just below that floor.
    """
    _check_curves(curves, "DET")
    arrays = {label: (np.asarray(far, dtype=float), np.asarray(frr, dtype=float)) for label, (far, frr) in curves.items()}
    far_floor = _zero_floor([far for far, _ in arrays.values()], FAR_MIN)
    frr_floor = _zero_floor([frr for _, frr in arrays.values()], FAR_MIN)
    figure = _figure(size, dpi)
    axes = figure.add_subplot()
    for label, (far, frr) in arrays.items():
        axes.plot(np.maximum(far, far_floor), np.maximum(frr, frr_floor), label=str(label), linewidth=1.5)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlim(_axis_start(far_floor), 1.0)
    axes.set_ylim(_axis_start(frr_floor), 1.0)
    _mark_zero(axes, far_floor, "FAR", vertical=True)
    _mark_zero(axes, frr_floor, "FRR", vertical=False)
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
