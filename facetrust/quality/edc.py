"""Error-versus-discard characteristics (ISO/IEC 29794-1:2024, NIST FATE-Quality).

A quality measure is useful for recognition when discarding the comparisons
with the lowest quality lowers the error of the rest. For a fixed decision
threshold (set for a false-match rate on separate data) and genuine
comparisons with similarity ``scores`` and pair quality ``quality`` (the
lower of the two images' qualities), the EDC is the FNMR of the remaining
comparisons as a function of the fraction discarded.

Conventions, following Schlett et al., "Considerations on the evaluation of
biometric quality assessment algorithms" (IEEE T-BIOM 2024):

* discarding goes by quality level: comparisons with equal quality are
  discarded together, so the curve has one point per distinct quality value;
* the curve is a step function (FNMR holds until the next discard point), and
  the partial area under it (pAUC) is integrated exactly on [0, limit];
* random discard removes errors and successes alike, so its expected curve
  is the constant starting FNMR (pAUC = FNMR0 * limit);
* the oracle discards the false non-matches first: max(0, FNMR0 - d) / (1 - d).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facetrust.errors import ConfigError

DEFAULT_DISCARD_LIMIT = 0.2


@dataclass(frozen=True)
class EdcCurve:
    discard: np.ndarray  # fractions discarded at the curve's points, ascending, starting at 0
    fnmr: np.ndarray  # FNMR of the remaining comparisons at each point
    quality_cut: np.ndarray  # comparisons with pair quality below this were discarded (-inf at 0)
    comparisons: int

    @property
    def start(self) -> float:
        return float(self.fnmr[0])

    def pauc(self, limit: float = DEFAULT_DISCARD_LIMIT) -> float:
        """Area under the step curve for discard fractions in [0, limit]."""
        return step_area(self.discard, self.fnmr, limit)

    def fnmr_at(self, fraction: float) -> float:
        """FNMR after discarding (at least) ``fraction`` of the comparisons."""
        index = int(np.searchsorted(self.discard, fraction - 1e-12, side="left"))
        return float(self.fnmr[min(index, len(self.fnmr) - 1)])


def step_area(discard: np.ndarray, values: np.ndarray, limit: float) -> float:
    """Integral of the right-continuous step function through (discard, values) over [0, limit]."""
    if not 0.0 < limit <= 1.0:
        raise ConfigError(f"discard limit must be in (0, 1], got {limit}")
    edges = np.r_[discard, 1.0]
    widths = np.clip(np.minimum(edges[1:], limit) - edges[:-1], 0.0, None)
    return float(np.sum(widths * values))


def pair_quality(quality_a: np.ndarray, quality_b: np.ndarray) -> np.ndarray:
    """The quality of a comparison: the lower of its two samples' qualities."""
    return np.minimum(np.asarray(quality_a, dtype=np.float64), np.asarray(quality_b, dtype=np.float64))


def edc(scores: np.ndarray, quality: np.ndarray, threshold: float) -> EdcCurve:
    """FNMR-EDC of genuine comparisons: accepted when score >= threshold (ties accepted)."""
    scores = np.asarray(scores, dtype=np.float64)
    quality = np.asarray(quality, dtype=np.float64)
    if scores.ndim != 1 or scores.shape != quality.shape or len(scores) == 0:
        raise ConfigError(f"scores and quality must be non-empty 1-D arrays of one length, got {scores.shape} and {quality.shape}")
    if not (np.all(np.isfinite(scores)) and np.all(np.isfinite(quality))):
        raise ConfigError("scores and quality must be finite (assign unassessable samples the lowest quality)")
    order = np.argsort(quality, kind="stable")
    errors = (scores[order] < threshold).astype(np.int64)
    ordered = quality[order]
    n = len(scores)
    # Discard points: before each new quality level (all ties go together).
    starts = np.r_[0, np.flatnonzero(np.diff(ordered) > 0) + 1]
    errors_left = errors.sum() - np.r_[0, np.cumsum(errors)][starts]
    fnmr = errors_left / (n - starts)
    cuts = np.r_[-np.inf, ordered[starts[1:]]]
    return EdcCurve(starts / n, fnmr.astype(np.float64), cuts, n)


def oracle_edc(scores: np.ndarray, threshold: float, points: int = 201) -> EdcCurve:
    """The best possible curve: every discarded comparison is a false non-match."""
    scores = np.asarray(scores, dtype=np.float64)
    start = float(np.mean(scores < threshold))
    discard = np.linspace(0.0, 1.0, points)[:-1]
    return EdcCurve(discard, np.maximum(0.0, start - discard) / (1.0 - discard), np.full(len(discard), np.nan),
                    len(scores))


def random_pauc(start_fnmr: float, limit: float = DEFAULT_DISCARD_LIMIT) -> float:
    """Expected pAUC of random discard: the FNMR stays at its start in expectation."""
    return float(start_fnmr * limit)


def recommended_cut(curve: EdcCurve, factor: float = 2.0, max_discard: float = DEFAULT_DISCARD_LIMIT) -> tuple[float, float]:
    """Quality threshold from an EDC: (quality cut, fraction of comparisons it discards).

    Discarding pays while the comparisons thrown away are clearly worse than
    average. The cut is the highest quality level (at most ``max_discard`` of
    the comparisons below it) for which the discarded comparisons, taken
    together, still have an FNMR of at least ``factor`` times the starting
    FNMR. No such level: (-inf, 0.0), i.e. the measure does not justify a cut.
    """
    n = curve.comparisons
    kept = n - np.rint(curve.discard * n)
    discarded = n - kept
    errors_discarded = curve.start * n - curve.fnmr * kept
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(discarded > 0, errors_discarded / discarded, np.nan)
    good = np.flatnonzero((discarded > 0) & (curve.discard <= max_discard) & (rate >= factor * curve.start))
    if len(good) == 0 or curve.start == 0:
        return float("-inf"), 0.0
    best = int(good[-1])
    return float(curve.quality_cut[best]), float(curve.discard[best])
