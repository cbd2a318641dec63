"""Presentation-attack-detection metrics in the ISO/IEC 30107-3 vocabulary.

Conventions:

* scores say how **live** a presentation is: higher = more likely bona fide;
* a presentation is **classified bona fide when score >= threshold** (ties accepted);
* ``bona_fide`` labels are booleans (True = live person), attacks carry a
  presentation-attack-instrument species (``attack_types``, e.g. "print", "replay").

Definitions (ISO/IEC 30107-3):

* APCER of a species = attacks of that species classified bona fide / attacks of that species;
  the headline APCER is the **maximum over species** (the worst attack);
* BPCER = bona fide presentations classified as attacks / bona fide presentations;
* ACER = (max-species APCER + BPCER) / 2 — not defined by the standard (which asks
  for APCER and BPCER separately) but widely reported, so it is given too;
* BPCER@APCER=x (e.g. BPCER20 for x = 5%) = BPCER at the lowest threshold whose APCER
  is <= x for **every** species;
* EER = the rate where pooled APCER (all species together) equals BPCER.

Bad input (empty, NaN, mismatched lengths, a missing class) raises
:class:`facetrust.errors.ConfigError`; nothing silently returns a default.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from facetrust.errors import ConfigError

DEFAULT_APCER_TARGETS: tuple[float, ...] = (0.05, 0.10)
_EPS = 1e-9  # guards floor(rate * n) against binary rounding (0.1 * 30 = 3.0000000000000004)


def _check(scores: Sequence[float], bona_fide: Sequence[bool], attack_types: Sequence[str] | None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(bona_fide)
    if scores.ndim != 1 or scores.shape != labels.shape:
        raise ConfigError(f"scores and labels must be 1-D of the same length (got {scores.shape} and {labels.shape})")
    if len(scores) == 0:
        raise ConfigError("no scores to evaluate")
    if not np.all(np.isfinite(scores)):
        raise ConfigError("scores contain NaN or infinity")
    if labels.dtype != bool:
        if labels.dtype.kind not in "biuf" or not np.all((labels == 0) | (labels == 1)):
            raise ConfigError("labels must be booleans or 0/1 (True = bona fide)")
        labels = labels.astype(bool)
    if labels.all() or not labels.any():
        missing = "attack" if labels.all() else "bona fide"
        raise ConfigError(f"no {missing} presentations among {len(labels)}: both are needed")
    types = np.array(["attack"] * len(scores) if attack_types is None else [str(t) for t in attack_types], dtype=object)
    if types.shape != scores.shape:
        raise ConfigError(f"attack_types must have one entry per score ({len(types)} vs {len(scores)})")
    return scores, labels, types


def species(bona_fide: np.ndarray, attack_types: np.ndarray) -> list[str]:
    """Attack species present, sorted."""
    return sorted({str(t) for t in attack_types[~bona_fide]})


def apcer(attack_scores: Sequence[float], threshold: float) -> float:
    """Fraction of attack scores classified bona fide (score >= threshold)."""
    attack_scores = np.asarray(attack_scores, dtype=np.float64)
    if len(attack_scores) == 0:
        raise ConfigError("APCER needs at least one attack presentation")
    return float(np.mean(attack_scores >= threshold))


def bpcer(bona_fide_scores: Sequence[float], threshold: float) -> float:
    """Fraction of bona fide scores classified as attacks (score < threshold)."""
    bona_fide_scores = np.asarray(bona_fide_scores, dtype=np.float64)
    if len(bona_fide_scores) == 0:
        raise ConfigError("BPCER needs at least one bona fide presentation")
    return float(np.mean(bona_fide_scores < threshold))


def apcer_per_species(scores: Sequence[float], bona_fide: Sequence[bool], attack_types: Sequence[str],
                      threshold: float) -> dict[str, float]:
    scores, labels, types = _check(scores, bona_fide, attack_types)
    return {s: apcer(scores[~labels & (types == s)], threshold) for s in species(labels, types)}


def det_points(scores: Sequence[float], bona_fide: Sequence[bool], attack_types: Sequence[str] | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(max-species APCER, BPCER, threshold) at every distinct score plus +inf, thresholds decreasing.

    The first point (threshold +inf) classifies everything as attack: APCER 0, BPCER 1.
    """
    scores, labels, types = _check(scores, bona_fide, attack_types)
    thresholds = np.r_[np.inf, np.unique(scores)[::-1]]
    bona = np.sort(scores[labels])
    worst = np.zeros(len(thresholds))
    for s in species(labels, types):
        attacks = np.sort(scores[~labels & (types == s)])
        accepted = len(attacks) - np.searchsorted(attacks, thresholds, side="left")
        worst = np.maximum(worst, accepted / len(attacks))
    rejected = np.searchsorted(bona, thresholds, side="left")
    return worst, rejected / len(bona), thresholds


def eer(scores: Sequence[float], bona_fide: Sequence[bool]) -> tuple[float, float]:
    """Equal error rate of pooled APCER vs BPCER and its threshold: (eer, threshold).

    Along decreasing thresholds APCER rises and BPCER falls; the EER is read where they
    cross, by linear interpolation between the two bracketing points (exact when a
    point has APCER == BPCER). The threshold is interpolated with the same weight,
    except next to the +inf start, where the finite threshold is returned.
    """
    pooled_apcer, rate_bpcer, thresholds = det_points(scores, bona_fide, None)
    diff = pooled_apcer - rate_bpcer  # -1 at +inf, +1 at the lowest score, non-decreasing
    i = int(np.argmax(diff >= 0))
    if diff[i] == 0:
        return float(pooled_apcer[i]), float(thresholds[i])
    weight = -diff[i - 1] / (diff[i] - diff[i - 1])
    rate = pooled_apcer[i - 1] + weight * (pooled_apcer[i] - pooled_apcer[i - 1])
    if np.isfinite(thresholds[i - 1]):
        threshold = thresholds[i - 1] + weight * (thresholds[i] - thresholds[i - 1])
    else:
        threshold = thresholds[i]
    return float(rate), float(threshold)


def threshold_at_apcer(scores: Sequence[float], bona_fide: Sequence[bool], attack_types: Sequence[str],
                       target: float) -> float:
    """Lowest threshold at which every species' APCER is <= ``target``.

    For each species at most ``floor(target * n_species)`` attacks may score >= threshold;
    the threshold lies halfway between the highest attack score that must be rejected and
    the next score in the data above it (or the next float up when no score is above it),
    so the rates re-measure exactly with ``score >= threshold`` and a sample scored at the
    boundary does not flip on float rounding when the fitted calibration is reapplied.
    """
    scores, labels, types = _check(scores, bona_fide, attack_types)
    if not (isinstance(target, (int, float)) and math.isfinite(target) and 0 <= target <= 1):
        raise ConfigError(f"target APCER must be in [0, 1], got {target!r}")
    cut = -np.inf  # the highest attack score that has to be rejected
    for s in species(labels, types):
        attacks = np.sort(scores[~labels & (types == s)])[::-1]
        allowed = int(math.floor(target * len(attacks) + _EPS))
        if allowed < len(attacks):
            cut = max(cut, float(attacks[allowed]))
    if cut == -np.inf:  # every attack may be accepted
        return float(scores.min())
    above = scores[scores > cut]
    return float((cut + above.min()) / 2.0) if len(above) else float(np.nextafter(cut, np.inf))


def rate_key(rate: float) -> str:
    """Stable text key of a rate: 0.05 -> '0.05' (JSON keys)."""
    return np.format_float_positional(float(rate), trim="-")


@dataclass
class PadSummary:
    """PAD results of one score set at one operating threshold.

    ``bpcer_at_apcer[x]`` is None where some species has fewer than 1/x attacks (x > 0):
    the rate x cannot be resolved (the threshold would have to reject all of them).
    """

    threshold: float
    apcer_per_species: dict[str, float]
    apcer_max: float
    bpcer: float
    acer: float
    eer: float
    eer_threshold: float
    bpcer_at_apcer: dict[float, float | None]
    bpcer_at_apcer_threshold: dict[float, float | None]
    n_bona_fide: int
    n_attacks_per_species: dict[str, int]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "apcer": self.apcer_per_species,
            "apcer_max": self.apcer_max,
            "bpcer": self.bpcer,
            "acer": self.acer,
            "eer": self.eer,
            "eer_threshold": self.eer_threshold,
            "bpcer_at_apcer": {rate_key(k): v for k, v in self.bpcer_at_apcer.items()},
            "bpcer_at_apcer_threshold": {rate_key(k): v for k, v in self.bpcer_at_apcer_threshold.items()},
            "n_bona_fide": self.n_bona_fide,
            "n_attacks": self.n_attacks_per_species,
        }


def summarize_pad(scores: Sequence[float], bona_fide: Sequence[bool], attack_types: Sequence[str], threshold: float,
                  apcer_targets: Sequence[float] = DEFAULT_APCER_TARGETS) -> PadSummary:
    """APCER per species and max, BPCER, ACER at ``threshold``; EER; BPCER at each APCER target."""
    scores, labels, types = _check(scores, bona_fide, attack_types)
    per_species = apcer_per_species(scores, labels, types, threshold)
    counts = {s: int(np.sum(~labels & (types == s))) for s in per_species}
    worst = max(per_species.values())
    rate_bpcer = bpcer(scores[labels], threshold)
    rate_eer, eer_threshold = eer(scores, labels)
    at: dict[float, float | None] = {}
    at_threshold: dict[float, float | None] = {}
    notes = []
    for target in apcer_targets:
        short = [s for s, n in counts.items() if float(target) > 0 and float(target) * n + _EPS < 1]
        if short:
            at[float(target)] = at_threshold[float(target)] = None
            notes.append(f"BPCER@APCER={target:g} not measurable: fewer than {math.ceil(1 / target)} attacks "
                         f"of species {', '.join(short)}")
            continue
        cut = threshold_at_apcer(scores, labels, types, target)
        at[float(target)], at_threshold[float(target)] = bpcer(scores[labels], cut), cut
    return PadSummary(threshold=float(threshold), apcer_per_species=per_species, apcer_max=worst, bpcer=rate_bpcer,
                      acer=(worst + rate_bpcer) / 2, eer=rate_eer, eer_threshold=eer_threshold,
                      bpcer_at_apcer=at, bpcer_at_apcer_threshold=at_threshold, n_bona_fide=int(labels.sum()),
                      n_attacks_per_species=counts, notes=notes)
