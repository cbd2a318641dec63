"""Unlinkability of protected templates: the D<->sys metric (Gomez-Barrero et al., IEEE TIFS 2018; ISO/IEC 30136).

Mated scores compare the same subject's templates protected under two different keys,
non-mated scores different subjects' under two keys. ``D<->(s)`` is how much a score
``s`` tells an attacker that two templates are linked; ``D<->sys`` is its expectation over
mated scores: 0 = fully unlinkable, 1 = fully linkable. Densities are histograms, as in
the authors' reference implementation.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facetrust.errors import ConfigError


@dataclass(frozen=True)
class Unlinkability:
    d_sys: float
    edges: np.ndarray  # histogram bin edges
    mated_density: np.ndarray
    nonmated_density: np.ndarray
    local: np.ndarray  # D<->(s) per bin

    @property
    def centres(self) -> np.ndarray:
        return (self.edges[:-1] + self.edges[1:]) / 2


def unlinkability(mated: np.ndarray, nonmated: np.ndarray, bins: int = 100, omega: float = 1.0) -> Unlinkability:
    """D<->sys of ``mated`` vs ``nonmated`` cross-key scores; ``omega`` = prior odds p(mated)/p(non-mated)."""
    mated, nonmated = np.asarray(mated, dtype=np.float64), np.asarray(nonmated, dtype=np.float64)
    if mated.size == 0 or nonmated.size == 0:
        raise ConfigError("unlinkability needs mated and non-mated scores")
    edges = np.linspace(min(mated.min(), nonmated.min()), max(mated.max(), nonmated.max()), bins + 1)
    width = edges[1] - edges[0] if edges[-1] > edges[0] else 1.0
    mated_density = np.histogram(mated, edges)[0] / (mated.size * width)
    nonmated_density = np.histogram(nonmated, edges)[0] / (nonmated.size * width)
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = omega * mated_density / nonmated_density
        local = np.where(odds > 1, 2 * odds / (1 + odds) - 1, 0.0)
    local[(nonmated_density == 0) & (mated_density > 0)] = 1.0  # only mated scores fall here: fully linkable
    local = np.nan_to_num(local)
    d_sys = float(np.sum(local * mated_density * width))
    return Unlinkability(d_sys, edges, mated_density, nonmated_density, local)
