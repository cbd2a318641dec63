"""Plots of the protection evaluation: cross-key score distributions with D<->(s), as in Gomez-Barrero et al."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from facetrust.privacy.evaluation import SchemeResult


def plot_unlinkability(results: Sequence[tuple[str, SchemeResult]], path: Path) -> Path:
    """One panel per (configuration, scheme): mated and non-mated cross-key score densities and D<->(s)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 3.4), squeeze=False)
    for ax, (title, result) in zip(axes[0], results):
        link = result.linkage
        width = link.edges[1] - link.edges[0]
        ax.bar(link.centres, link.nonmated_density, width=width, alpha=0.5, color="tab:red", label="non-mated")
        ax.bar(link.centres, link.mated_density, width=width, alpha=0.5, color="tab:green", label="mated")
        ax.set_xlabel("cross-key score")
        ax.set_ylabel("density")
        ax.set_title(f"{title}\nD<->sys = {link.d_sys:.3f}", fontsize=9)
        twin = ax.twinx()
        twin.plot(link.centres, link.local, color="black", linewidth=1, label="D<->(s)")
        twin.set_ylim(0, 1.05)
        twin.set_ylabel("D<->(s)")
        ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
