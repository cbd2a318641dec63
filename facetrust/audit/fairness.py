"""Fairness audit of a recognizer: who gets falsely matched, and is the error shared equally?

* Label-free, per identity (CIFP's instance false-positive rate): one global threshold at
  ``fmr`` over all impostor comparisons of the set (every pair of images of different
  identities); each identity's false-positive rate over its own impostor comparisons; the
  distribution's Gini coefficient, the worst identities, and the worst decile against the median.
* Per demographic group (when labels are given): within-group pairs only (both images in the
  group), FMR and FNMR per group at the global threshold (fairlearn's ``MetricFrame``), max/min
  differentials (NIST FRVT Part 8 style), the Fairness Discrepancy Rate (de Freitas Pereira &
  Marcel, 2021, alpha = 0.5), bootstrap 95% intervals that resample identities (pairs of one
  person are not independent), and the per-group threshold that would give each group ``fmr``.

Memory: all n(n-1)/2 comparisons are held (10 bytes each: 3,610 images take ~65 MB, 13,229 ~0.9 GB);
groups are integer codes and fairlearn gets per-group counts (as sample weights), not one row per comparison.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from facetrust.audit.groups import AuditSet
from facetrust.errors import ConfigError
from facetrust.evaluation.metrics import tar_at_far

#: A group needs this many identities (with comparisons of the kind) for a bootstrap interval.
MIN_IDENTITIES_FOR_CI = 10
BOOTSTRAP_RESAMPLES = 1000
WORST_LISTED = 10


@dataclass
class Comparisons:
    """Every pair i < j of the embedded images: similarity, image indices, same identity."""

    scores: np.ndarray  # float32
    first: np.ndarray  # int32 image index
    second: np.ndarray
    same: np.ndarray  # bool
    identity_index: np.ndarray  # per image: index into identity_names
    identity_names: list[str]


def all_comparisons(vectors: np.ndarray, identities: Sequence[str]) -> Comparisons:
    """All pairs of L2-normalised ``vectors`` (n, d) with cosine similarity.

    Filled row by row into preallocated arrays (10 bytes per comparison, no int64 index arrays), so
    13,229 images (87.5 M comparisons) take ~0.9 GB.
    """
    if len(vectors) < 2:
        raise ConfigError(f"a fairness audit needs at least 2 embedded images, got {len(vectors)}")
    names, index = np.unique(np.asarray(identities, dtype=object).astype(str), return_inverse=True)
    if len(names) < 2:
        raise ConfigError("a fairness audit needs at least 2 identities (impostor comparisons)")
    vectors = np.asarray(vectors, dtype=np.float32)
    index = index.astype(np.int32)
    n = len(vectors)
    size = n * (n - 1) // 2
    scores = np.empty(size, dtype=np.float32)
    first = np.empty(size, dtype=np.int32)
    second = np.empty(size, dtype=np.int32)
    same = np.empty(size, dtype=bool)
    start = 0
    for i in range(n - 1):
        end = start + n - 1 - i
        scores[start:end] = vectors[i + 1:] @ vectors[i]
        first[start:end] = i
        second[start:end] = np.arange(i + 1, n, dtype=np.int32)
        same[start:end] = index[i + 1:] == index[i]
        start = end
    return Comparisons(scores, first, second, same, index, [str(name) for name in names])


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0 = equal, -> 1 = all in one)."""
    values = np.sort(np.asarray(values, dtype=np.float64))
    total = values.sum()
    if total == 0:
        return 0.0
    n = len(values)
    return float(2 * np.sum(np.arange(1, n + 1) * values) / (n * total) - (n + 1) / n)


def _per_identity(comparisons: Comparisons, flags: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per identity: (count of flagged comparisons, count of comparisons) among ``mask`` (a boolean mask
    or the comparisons' indices), each pair counted for both of its images' identities."""
    size = len(comparisons.identity_names)
    hits = np.zeros(size)
    totals = np.zeros(size)
    for side in (comparisons.first, comparisons.second):
        who = comparisons.identity_index[side[mask]]
        hits += np.bincount(who, weights=flags[mask], minlength=size)
        totals += np.bincount(who, minlength=size)
    return hits, totals


def identity_fairness(comparisons: Comparisons, threshold: float) -> dict[str, Any]:
    """CIFP's per-identity false-positive rates at ``threshold``."""
    impostor = ~comparisons.same
    false_match = comparisons.scores >= threshold
    hits, totals = _per_identity(comparisons, false_match, impostor)
    rates = hits / totals
    order = np.argsort(-rates, kind="stable")
    decile = max(1, int(np.ceil(0.1 * len(rates))))
    worst_decile = float(np.mean(rates[order[:decile]]))
    median = float(np.median(rates))
    images = np.bincount(comparisons.identity_index, minlength=len(rates))
    return {
        "identities": len(rates),
        "mean_fpr": float(np.mean(rates)),
        "median_fpr": median,
        "identities_with_no_false_match": int(np.sum(hits == 0)),
        "gini": gini(rates),
        "worst_decile_mean_fpr": worst_decile,
        # Undefined when most identities have no false match at all (the median is 0).
        "worst_decile_to_median": worst_decile / median if median > 0 else None,
        "worst_identities": [{"identity": comparisons.identity_names[i], "fpr": float(rates[i]),
                              "false_matches": int(hits[i]), "impostor_comparisons": int(totals[i]),
                              "images": int(images[i])} for i in order[:WORST_LISTED]],
        "fpr_per_identity": rates,
    }


def bootstrap_over_identities(hits: np.ndarray, totals: np.ndarray, rng: np.random.Generator) -> tuple[float, float] | str:
    """95% interval of sum(hits)/sum(totals) resampling identities; a reason string when too few."""
    present = totals > 0
    if present.sum() < MIN_IDENTITIES_FOR_CI:
        return f"too small for a confidence interval: {int(present.sum())} identities (< {MIN_IDENTITIES_FOR_CI})"
    hits, totals = hits[present], totals[present]
    weights = rng.multinomial(len(hits), np.full(len(hits), 1 / len(hits)), size=BOOTSTRAP_RESAMPLES)
    denominators = weights @ totals
    rates = (weights @ hits)[denominators > 0] / denominators[denominators > 0]
    low, high = np.quantile(rates, [0.025, 0.975])
    return float(low), float(high)


def max_over_min(values: list[float]) -> float | None:
    return max(values) / min(values) if values and min(values) > 0 else None


def group_fairness(comparisons: Comparisons, labels: Sequence[str], threshold: float, fmr: float,
                   seed: int = 0) -> dict[str, Any]:
    """Per-group FMR/FNMR at ``threshold`` over within-group pairs, with differentials and intervals."""
    from fairlearn.metrics import MetricFrame, false_negative_rate, false_positive_rate

    labels = np.asarray(labels, dtype=object).astype(str)
    names = sorted(set(labels) - {""})
    codes = np.full(len(labels), -1, dtype=np.int16)  # -1: not labelled in this column
    for code, name in enumerate(names):
        codes[labels == name] = code
    left, right = codes[comparisons.first], codes[comparisons.second]
    within = (left == right) & (left >= 0)
    same = comparisons.same
    accepted = comparisons.scores >= threshold
    members_of = {name: np.flatnonzero(within & (left == code)) for code, name in enumerate(names)}
    # fairlearn gets the per-group confusion counts as sample weights (one row per group and outcome),
    # not one row per comparison: 13,229 images make 87.5 M comparisons.
    rows = [(name, truth, decision, int(np.sum((same[idx] == truth) & (accepted[idx] == decision))))
            for name, idx in members_of.items() for truth in (False, True) for decision in (False, True)]
    rows = [r for r in rows if r[3]]
    weights = np.array([r[3] for r in rows], dtype=float)
    frame = MetricFrame(metrics={"fmr": false_positive_rate, "fnmr": false_negative_rate},
                        y_true=np.array([r[1] for r in rows]), y_pred=np.array([r[2] for r in rows]),
                        sensitive_features=np.array([r[0] for r in rows], dtype=object),
                        sample_params={"fmr": {"sample_weight": weights}, "fnmr": {"sample_weight": weights}})
    by_group = frame.by_group
    rng = np.random.default_rng(seed)
    groups: dict[str, dict[str, Any]] = {}
    for name in names:
        idx = members_of[name]
        entry: dict[str, Any] = {
            "images": int(np.sum(labels == name)),
            "identities": int(len(set(comparisons.identity_index[labels == name]))),
            "impostor_comparisons": int(np.sum(~same[idx])),
            "genuine_comparisons": int(np.sum(same[idx]))}
        if not len(idx):
            groups[name] = {**entry, "status": "empty: no within-group comparisons"}
            continue
        for metric, kind, flags in (("fmr", ~same[idx], accepted), ("fnmr", same[idx], ~accepted)):
            n = entry["impostor_comparisons" if metric == "fmr" else "genuine_comparisons"]
            entry[metric] = float(by_group.loc[name, metric]) if n else None
            if not n:
                entry[f"{metric}_ci95"] = f"no {'impostor' if metric == 'fmr' else 'genuine'} comparisons"
                continue
            hits, totals = _per_identity(comparisons, flags, idx[kind])
            if metric == "fnmr":  # a genuine pair belongs to one identity: counted twice above
                hits, totals = hits / 2, totals / 2
            interval = bootstrap_over_identities(hits, totals, rng)
            entry[f"{metric}_ci95"] = list(interval) if isinstance(interval, tuple) else interval
        if entry["impostor_comparisons"] * fmr < 1:
            entry["fmr_resolution"] = (f"{entry['impostor_comparisons']} impostor comparisons cannot resolve "
                                       f"FMR {fmr:g}")
        try:
            tar, own = tar_at_far(comparisons.scores[idx], same[idx], fmr)
            entry["threshold_for_equal_fmr"] = own
            entry["fnmr_at_own_threshold"] = 1 - tar
        except ConfigError as exc:
            entry["threshold_for_equal_fmr"] = f"not measurable: {exc}"
        groups[name] = entry
    # Differentials only between groups large enough for an interval on both rates.
    measured = {n: e for n, e in groups.items()
                if isinstance(e.get("fmr_ci95"), list) and isinstance(e.get("fnmr_ci95"), list)}
    fmrs = [e["fmr"] for e in measured.values()]
    fnmrs = [e["fnmr"] for e in measured.values()]
    summary: dict[str, Any] = {
        "groups_compared": sorted(measured),
        "groups_too_small_to_compare": sorted(set(groups) - set(measured)),
        "fmr_max_over_min": max_over_min(fmrs),
        "fnmr_max_over_min": max_over_min(fnmrs),
        "fairness_discrepancy_rate": (1 - (0.5 * (max(fmrs) - min(fmrs)) + 0.5 * (max(fnmrs) - min(fnmrs))))
        if len(measured) >= 2 else None,
        "cross_group_impostor_comparisons_left_out": int(np.sum((left != right) & (left >= 0) & (right >= 0))),
    }
    return {"groups": groups, "summary": summary}


def global_threshold(comparisons: Comparisons, fmr: float) -> float:
    """The threshold at ``fmr`` over all impostor comparisons (score >= threshold accepts)."""
    return tar_at_far(comparisons.scores, comparisons.same, fmr)[1]


def fairness_audit(audit_set: AuditSet, vectors: np.ndarray, fmr: float, seed: int = 0) -> dict[str, Any]:
    """The identity audit and, per group column of ``audit_set``, the group audit, for one recognizer.

    ``vectors``: one L2-normalised embedding per image of ``audit_set`` (same order).
    """
    comparisons = all_comparisons(vectors, audit_set.identities)
    threshold = global_threshold(comparisons, fmr)
    same = comparisons.same
    result: dict[str, Any] = {
        "images": len(vectors), "fmr": fmr, "threshold": threshold,
        "impostor_comparisons": int(np.sum(~same)), "genuine_comparisons": int(np.sum(same)),
        "fnmr": float(np.mean(comparisons.scores[same] < threshold)) if same.any() else None,
        "identity": identity_fairness(comparisons, threshold),
        "groups": {column: group_fairness(comparisons, labels, threshold, fmr, seed)
                   for column, labels in audit_set.groups.items()},
    }
    return result


def audit_fairness(audit_set: AuditSet, models: Sequence[Any], cache: Any, fmr: float, workers: int = 1,
                   progress: bool = True, seed: int = 0) -> dict[str, Any]:
    """Embed ``audit_set`` with each of ``models`` (``EvalModel``; cached) and audit each.

    Images without an embedding (no face and no fallback, or unreadable) are left out and counted.
    Returns ``{label: fairness_audit(...) + "left_out"}``.
    """
    from facetrust.evaluation.embedder import embed_images

    results: dict[str, Any] = {}
    for model in models:
        embedded = embed_images(audit_set.paths, model, cache, workers=workers, progress=progress)
        vectors = [embedded.vector(p, use_fallback=True) for p in audit_set.paths]
        keep = [v is not None for v in vectors]
        kept = audit_set.subset(keep)
        result = fairness_audit(kept, np.stack([v for v in vectors if v is not None]), fmr, seed)
        result["left_out_no_embedding"] = len(keep) - sum(keep)
        result["centre_crop_fallback"] = len(embedded.not_detected)
        results[model.label] = result
    return results
