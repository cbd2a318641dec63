"""Verification and identification metrics on similarity scores.

Conventions used throughout:

* scores are similarities: **higher = more similar** (more likely genuine);
* a comparison is **accepted when score >= threshold** (ties are accepted);
* labels are booleans, ``True`` = same identity (genuine / mated pair);
* FAR = false accept rate (impostor scores >= threshold / impostors),
  TAR = true accept rate (genuine scores >= threshold / genuines), FRR = 1 - TAR.

Bad input (empty, NaN/inf, mismatched lengths, a single class) raises
:class:`facetrust.errors.ConfigError`; no metric silently returns a default
such as AUC = 0.5.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Hashable, Sequence

import numpy as np

from facetrust.errors import ConfigError

DEFAULT_FARS: tuple[float, ...] = (1e-2, 1e-3, 1e-4)
_EPS = 1e-9  # guards floor(rate * n) against binary rounding (0.29 * 100 = 28.999...)


def _check(scores: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """1-D, same length, non-empty, finite scores; labels bool (or 0/1)."""
    scores = np.asarray(scores, dtype=np.float64)
    raw = np.asarray(same)
    if scores.shape != raw.shape or scores.ndim != 1:
        raise ConfigError(
            f"scores and labels must be 1-D arrays of the same length (got shapes {scores.shape} and {raw.shape})"
        )
    if len(scores) == 0:
        raise ConfigError("no scores to evaluate")
    if not np.all(np.isfinite(scores)):
        raise ConfigError(f"scores contain NaN or infinity ({int(np.sum(~np.isfinite(scores)))} of {len(scores)})")
    if raw.dtype != bool:
        if raw.dtype.kind not in "biuf" or not np.all((raw == 0) | (raw == 1)):
            raise ConfigError("labels must be booleans or 0/1 (True = same identity)")
    return scores, raw.astype(bool)


def _check_binary(scores: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_check` plus: both genuine and impostor scores are present."""
    scores, same = _check(scores, same)
    n_genuine = int(same.sum())
    if n_genuine == 0 or n_genuine == len(same):
        kind = "impostor (different)" if n_genuine else "genuine (same)"
        raise ConfigError(f"labels contain a single class: no {kind} pairs among {len(same)} (both are needed)")
    return scores, same


def _count_measurable(rate: float, n: int, what: str, population: str) -> int:
    """floor(rate * n): how many of n negatives may be accepted; ConfigError when < 1."""
    try:
        rate = float(rate)
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must be a number in (0, 1], got {rate!r}") from None
    if not (math.isfinite(rate) and 0 < rate <= 1):
        raise ConfigError(f"{what} must be in (0, 1], got {rate!r}")
    allowed = int(math.floor(rate * n + _EPS))
    if allowed < 1:
        raise ConfigError(
            f"{what}={rate:g} is not measurable with {n} {population} (the smallest measurable rate is 1/{n} = {1 / n:.3g})"
        )
    return allowed


def _threshold_allowing(negatives: np.ndarray, allowed: int, candidates: np.ndarray) -> float:
    """Lowest threshold (accept score >= t) with at most ``allowed`` negatives accepted.

    Returned as the smallest candidate score strictly above the (allowed+1)-th highest
    negative, so it is a score that occurs in the data; if no candidate is above it,
    the next float up (nothing accepted). If every negative may be accepted, the
    smallest candidate (everything accepted).
    """
    if allowed >= len(negatives):
        return float(min(candidates.min(), negatives.min()))
    cut = float(np.sort(negatives)[::-1][allowed])
    above = candidates[candidates > cut]
    return float(above.min()) if len(above) else float(np.nextafter(cut, np.inf))


# --------------------------------------------------------------------------- accuracy (LFW style)


def accuracy_at(scores: np.ndarray, same: np.ndarray, threshold: float) -> float:
    """Fraction of pairs classified right when score >= threshold means 'same'."""
    scores, same = _check(scores, same)
    return float(np.mean((scores >= threshold) == same))


def best_threshold(scores: np.ndarray, same: np.ndarray) -> float:
    """Threshold maximising accuracy; candidates are midpoints between sorted scores."""
    scores, same = _check(scores, same)
    ordered = np.unique(scores)
    candidates = np.concatenate([[ordered[0] - 1e-6], (ordered[:-1] + ordered[1:]) / 2, [ordered[-1] + 1e-6]])
    # accuracy(t) = (#same with score >= t + #different with score < t) / n, for all t at once
    same_scores = np.sort(scores[same])
    diff_scores = np.sort(scores[~same])
    true_accept = len(same_scores) - np.searchsorted(same_scores, candidates, side="left")
    true_reject = np.searchsorted(diff_scores, candidates, side="left")
    return float(candidates[int(np.argmax(true_accept + true_reject))])


def kfold_accuracy(scores: np.ndarray, same: np.ndarray, folds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-fold accuracy with the threshold chosen on the other folds only (LFW View-2 style).

    Returns (accuracies, thresholds), one per fold, in fold order.
    """
    scores, same = _check(scores, same)
    folds = np.asarray(folds)
    accuracies, thresholds = [], []
    for fold in np.unique(folds):
        train, test = folds != fold, folds == fold
        threshold = best_threshold(scores[train], same[train])
        thresholds.append(threshold)
        accuracies.append(accuracy_at(scores[test], same[test], threshold))
    return np.array(accuracies), np.array(thresholds)


# --------------------------------------------------------------------------- ROC family


def roc(scores: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Empirical ROC: (far, tar, thresholds), one point per distinct score, thresholds decreasing.

    The first point is (0, 0) at threshold +inf (nothing accepted); the last is (1, 1)
    at the lowest score. Point i is the operating point 'accept score >= thresholds[i]'.
    Identical to ``sklearn.metrics.roc_curve(same, scores, drop_intermediate=False)``
    but computed with numpy only.
    """
    scores, same = _check_binary(scores, same)
    genuine, impostor = np.sort(scores[same]), np.sort(scores[~same])
    thresholds = np.unique(scores)[::-1]
    tar = (len(genuine) - np.searchsorted(genuine, thresholds, side="left")) / len(genuine)
    far = (len(impostor) - np.searchsorted(impostor, thresholds, side="left")) / len(impostor)
    return np.r_[0.0, far], np.r_[0.0, tar], np.r_[np.inf, thresholds]


def auc(scores: np.ndarray, same: np.ndarray) -> float:
    """Area under the ROC (trapezoids; equals P(genuine > impostor) + P(tie) / 2)."""
    far, tar, _ = roc(scores, same)
    return float(np.sum(np.diff(far) * (tar[1:] + tar[:-1]) / 2))


def eer(scores: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """Equal error rate and its threshold: (eer, threshold).

    Along the ROC (thresholds decreasing) FAR rises and FRR = 1 - TAR falls; the EER is
    where they cross, found by linear interpolation between the two ROC points that
    bracket the crossing (exact when a point has FAR == FRR). The threshold is
    interpolated with the same weight; where the upper point is the +inf sentinel the
    lower point's threshold is returned.
    """
    far, tar, thresholds = roc(scores, same)
    frr = 1.0 - tar
    diff = far - frr  # -1 at the first point, +1 at the last, non-decreasing
    i = int(np.argmax(diff >= 0))
    if diff[i] == 0:
        return float(far[i]), float(thresholds[i])
    weight = -diff[i - 1] / (diff[i] - diff[i - 1])
    rate = far[i - 1] + weight * (far[i] - far[i - 1])
    if np.isfinite(thresholds[i - 1]):
        threshold = thresholds[i - 1] + weight * (thresholds[i] - thresholds[i - 1])
    else:
        threshold = thresholds[i]
    return float(rate), float(threshold)


def tar_at_far(scores: np.ndarray, same: np.ndarray, far: float) -> tuple[float, float]:
    """Largest TAR whose FAR <= ``far``: (tar, threshold).

    Tie convention: score >= threshold is accepted. The threshold is the lowest one
    for which at most floor(far * n_impostor) impostor scores are >= threshold, taken
    as a score occurring in the data (the smallest score strictly above the
    (floor(far * n_impostor) + 1)-th highest impostor score), so TAR and FAR can be
    re-measured exactly with ``scores >= threshold``. Impostors tied with that score
    are all rejected, never split.

    Raises ConfigError when far < 1 / n_impostor (not measurable on this data).
    """
    scores, same = _check_binary(scores, same)
    impostor = scores[~same]
    allowed = _count_measurable(far, len(impostor), "far", "impostor scores")
    threshold = _threshold_allowing(impostor, allowed, scores)
    return float(np.mean(scores[same] >= threshold)), threshold


def det_curve(scores: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Detection-error trade-off points (far, frr) for every ROC point, FAR increasing.

    The endpoints (0, 1) and (1, 0) are included; log axes simply do not show them.
    """
    far, tar, _ = roc(scores, same)
    return far, 1.0 - tar


# --------------------------------------------------------------------------- identification (1:N)


def _check_similarity(similarity: np.ndarray, probe_ids: Sequence[Hashable], gallery_ids: Sequence[Hashable],
                      name: str) -> np.ndarray:
    sim = np.asarray(similarity, dtype=np.float64)
    if sim.ndim != 2:
        raise ConfigError(f"{name} must be a 2-D (n_probe, n_gallery) matrix, got shape {sim.shape}")
    if sim.shape[0] == 0:
        raise ConfigError(f"{name} has no probes")
    if sim.shape[1] == 0 or len(gallery_ids) == 0:
        raise ConfigError("the gallery is empty")
    if sim.shape[1] != len(gallery_ids):
        raise ConfigError(f"{name} has {sim.shape[1]} gallery columns but {len(gallery_ids)} gallery ids were given")
    if probe_ids is not None and sim.shape[0] != len(probe_ids):
        raise ConfigError(f"{name} has {sim.shape[0]} probe rows but {len(probe_ids)} probe ids were given")
    if not np.all(np.isfinite(sim)):
        raise ConfigError(f"{name} contains NaN or infinity")
    return sim


def _identity_scores(sim: np.ndarray, gallery_ids: Sequence[Hashable]) -> tuple[np.ndarray, dict[Hashable, int]]:
    """Collapse gallery columns to one per identity (best score over its samples)."""
    ids = list(gallery_ids)
    index: dict[Hashable, int] = {}
    column = np.array([index.setdefault(g, len(index)) for g in ids])
    if len(index) == len(ids):  # one sample per identity: column j is identity j
        return sim, index
    order = np.argsort(column, kind="stable")
    starts = np.r_[0, np.flatnonzero(np.diff(column[order])) + 1]
    return np.maximum.reduceat(sim[:, order], starts, axis=1), index


def _mated_ranks(similarity: np.ndarray, probe_ids: Sequence[Hashable],
                 gallery_ids: Sequence[Hashable], name: str) -> tuple[np.ndarray, np.ndarray]:
    """(rank of the true identity, its score) per probe; ties count against the probe."""
    sim = _check_similarity(similarity, probe_ids, gallery_ids, name)
    per_identity, index = _identity_scores(sim, gallery_ids)
    missing = [p for p in probe_ids if p not in index]
    if missing:
        shown = ", ".join(repr(m) for m in list(dict.fromkeys(missing))[:5])
        raise ConfigError(
            f"{len(missing)} probe(s) have no identity in the gallery (closed set required), e.g. {shown}"
        )
    true_column = np.array([index[p] for p in probe_ids])
    true_score = per_identity[np.arange(len(true_column)), true_column]
    # pessimistic ranking: every other identity scoring >= the true one ranks ahead of it
    ranks = (per_identity >= true_score[:, None]).sum(axis=1)
    return ranks, true_score


def cmc(similarity: np.ndarray, probe_ids: Sequence[Hashable], gallery_ids: Sequence[Hashable],
        max_rank: int = 10) -> np.ndarray:
    """Closed-set cumulative match characteristic: identification rates at ranks 1..max_rank.

    ``similarity[i, j]`` compares probe i with gallery sample j (higher = more similar).
    A gallery identity with several samples is ranked by its best sample. Ties are
    pessimistic: another identity scoring exactly as high as the true one ranks ahead.
    Every probe identity must be enrolled (ConfigError otherwise). Ranks beyond the
    number of gallery identities have rate 1.
    """
    if not isinstance(max_rank, (int, np.integer)) or max_rank < 1:
        raise ConfigError(f"max_rank must be a positive integer, got {max_rank!r}")
    ranks, _ = _mated_ranks(similarity, probe_ids, gallery_ids, "similarity")
    return np.array([float(np.mean(ranks <= r)) for r in range(1, int(max_rank) + 1)])


def dir_at_fpir(mated_sim: np.ndarray, mated_probe_ids: Sequence[Hashable], gallery_ids: Sequence[Hashable],
                nonmated_sim: np.ndarray, fpir: float) -> tuple[float, float]:
    """Open-set detection and identification rate at a false-positive identification rate.

    Returns (dir, threshold). The threshold is the lowest for which the fraction of
    non-mated probes whose top gallery score is >= threshold is <= ``fpir`` (at most
    floor(fpir * n_nonmated) of them), taken as a score occurring in the data. DIR is
    the fraction of mated probes whose true identity is rank 1 (ties pessimistic, as
    in :func:`cmc`) AND whose score is >= threshold.

    Raises ConfigError when fpir < 1 / n_nonmated (not measurable), or when a mated
    probe's identity is not in the gallery.
    """
    ranks, true_score = _mated_ranks(mated_sim, mated_probe_ids, gallery_ids, "mated_sim")
    nonmated = _check_similarity(nonmated_sim, None, gallery_ids, "nonmated_sim")
    top_nonmated = nonmated.max(axis=1)
    allowed = _count_measurable(fpir, len(top_nonmated), "fpir", "non-mated probes")
    threshold = _threshold_allowing(top_nonmated, allowed, np.r_[true_score, top_nonmated])
    return float(np.mean((ranks == 1) & (true_score >= threshold))), threshold


# --------------------------------------------------------------------------- score fusion


def znorm(scores: np.ndarray, mean: float, std: float) -> np.ndarray:
    """(scores - mean) / std, with mean and std measured on training scores by the caller."""
    if not (math.isfinite(mean) and math.isfinite(std)) or std <= 0:
        raise ConfigError(f"z-normalisation needs a finite mean and a positive std (got mean={mean}, std={std})")
    return (np.asarray(scores, dtype=np.float64) - mean) / std


def fuse_scores(score_arrays: Sequence[np.ndarray], stats: Sequence[tuple[float, float]]) -> np.ndarray:
    """Score-level fusion: sum over matchers of z-normalised scores.

    ``score_arrays[m]`` holds matcher m's scores for the same comparisons (same order);
    ``stats[m]`` is its (mean, std) computed on TRAINING data, never on the scores fused.
    """
    if len(score_arrays) == 0:
        raise ConfigError("fusion needs at least one score array")
    if len(score_arrays) != len(stats):
        raise ConfigError(f"{len(score_arrays)} score arrays but {len(stats)} (mean, std) pairs")
    arrays = [np.asarray(a, dtype=np.float64) for a in score_arrays]
    if any(a.ndim != 1 or a.shape != arrays[0].shape for a in arrays):
        raise ConfigError(f"score arrays to fuse must be 1-D and of equal length, got {[a.shape for a in arrays]}")
    if not all(np.all(np.isfinite(a)) for a in arrays):
        raise ConfigError("scores to fuse contain NaN or infinity")
    return np.sum([znorm(a, float(mean), float(std)) for a, (mean, std) in zip(arrays, stats)], axis=0)


# --------------------------------------------------------------------------- summary


def far_key(far: float) -> str:
    """Stable text key of a rate: 0.01 -> '0.01', 1e-3 -> '0.001' (used in to_dict / JSON)."""
    return np.format_float_positional(float(far), trim="-")


@dataclass
class VerificationSummary:
    """Verification results on one score set.

    ``accuracy_*`` come from k-fold cross-validation (threshold chosen on the other
    folds); ``accuracy_std`` is the population std (ddof=0) of the fold accuracies.
    ``tar_at_far[far]`` is None where far < 1 / n_impostor (not measurable).
    """

    accuracy_mean: float
    accuracy_std: float
    fold_accuracies: list[float]
    auc: float
    eer: float
    eer_threshold: float
    tar_at_far: dict[float, float | None]
    n_genuine: int
    n_impostor: int
    fold_thresholds: list[float] = field(default_factory=list)
    tar_at_far_threshold: dict[float, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict keyed by metric names; rate keys as text ('0.01', '0.001')."""
        raw = asdict(self)
        return {
            "accuracy": raw["accuracy_mean"],
            "accuracy_std": raw["accuracy_std"],
            "auc": raw["auc"],
            "eer": raw["eer"],
            "eer_threshold": raw["eer_threshold"],
            "tar_at_far": {far_key(k): v for k, v in self.tar_at_far.items()},
            "tar_at_far_threshold": {far_key(k): v for k, v in self.tar_at_far_threshold.items()},
            "fold_accuracies": raw["fold_accuracies"],
            "fold_thresholds": raw["fold_thresholds"],
            "n_genuine": raw["n_genuine"],
            "n_impostor": raw["n_impostor"],
        }


def summarize_verification(scores: np.ndarray, same: np.ndarray, folds: np.ndarray | None = None,
                           fars: Sequence[float] = DEFAULT_FARS) -> VerificationSummary:
    """Accuracy (k-fold CV), AUC, EER and TAR@FAR of one score set.

    ``folds`` gives each pair's fold (e.g. the LFW View-2 fold); None means 10 round-robin
    folds, ``np.arange(n) % 10``. At least 2 folds are needed. A FAR below
    1 / n_impostor gets None instead of raising.
    """
    scores, same = _check_binary(scores, same)
    if folds is None:
        folds = np.arange(len(scores)) % 10
    folds = np.asarray(folds)
    if folds.shape != scores.shape:
        raise ConfigError(f"folds must have one entry per score ({folds.shape} vs {scores.shape})")
    if len(np.unique(folds)) < 2:
        raise ConfigError("cross-validated accuracy needs at least 2 folds")
    accuracies, thresholds = kfold_accuracy(scores, same, folds)
    rate, rate_threshold = eer(scores, same)
    n_impostor = int((~same).sum())
    tars: dict[float, float | None] = {}
    tar_thresholds: dict[float, float | None] = {}
    for far in fars:
        if float(far) * n_impostor + _EPS < 1:
            tars[float(far)] = tar_thresholds[float(far)] = None
        else:
            tars[float(far)], tar_thresholds[float(far)] = tar_at_far(scores, same, far)
    return VerificationSummary(
        accuracy_mean=float(accuracies.mean()),
        accuracy_std=float(accuracies.std()),
        fold_accuracies=[float(a) for a in accuracies],
        auc=auc(scores, same),
        eer=rate,
        eer_threshold=rate_threshold,
        tar_at_far=tars,
        n_genuine=int(same.sum()),
        n_impostor=n_impostor,
        fold_thresholds=[float(t) for t in thresholds],
        tar_at_far_threshold=tar_thresholds,
    )
