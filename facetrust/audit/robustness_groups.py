"""Robustness per demographic group: does a perturbation cost one group more genuine matches than another?

A pair belongs to a group of a label column when both of its images carry that label (every labelled
genuine pair does: it is one person); pairs across groups or with an unlabelled image are left out of
that column. Per group and condition: genuine pairs, TAR and FNMR at the shipped threshold with a
bootstrap 95% interval that resamples identities (pairs of one person are not independent), TAR lost
against the clean images, and same-group false matches counted (a few thousand impostor pairs cannot
resolve a per-group FMR of 1e-3, so no FMR ratio is given). Per condition: FNMR max/min and max - min
over the groups large enough for an interval.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from facetrust.audit.fairness import bootstrap_over_identities, max_over_min
from facetrust.evaluation.lfw import Pair


def pair_labels(pairs: Sequence[Pair], labels: Mapping[Path, str]) -> np.ndarray:
    """Per pair: the label both images share in ``labels`` (path -> label), '' when they differ or lack one."""
    resolved = {Path(p).resolve(): v for p, v in labels.items()}
    first = [resolved.get(Path(p.path_a).resolve(), "") for p in pairs]
    second = [resolved.get(Path(p.path_b).resolve(), "") for p in pairs]
    return np.array([a if a == b else "" for a, b in zip(first, second)], dtype=object)


def group_rates(scores: np.ndarray, same: np.ndarray, groups: np.ndarray, identities: np.ndarray,
                threshold: float, seed: int = 0) -> dict[str, Any]:
    """TAR / FNMR at ``threshold`` per group over its genuine pairs, false matches over its impostor pairs.

    ``groups``: per pair its group ('' = left out); ``identities``: per pair the enrolled image's identity
    (the unit the interval resamples).
    """
    rng = np.random.default_rng(seed)
    accepted = scores >= threshold
    entries: dict[str, dict[str, Any]] = {}
    for name in sorted(set(groups) - {""}):
        member = groups == name
        genuine = member & same
        impostor = member & ~same
        entry: dict[str, Any] = {"genuine_pairs": int(genuine.sum()), "impostor_pairs": int(impostor.sum()),
                                 "false_matches": int((accepted & impostor).sum())}
        if entry["genuine_pairs"]:
            _, who = np.unique(identities[genuine], return_inverse=True)
            misses = np.bincount(who, weights=~accepted[genuine])
            totals = np.bincount(who).astype(float)
            entry["identities"] = int(len(totals))
            entry["fnmr"] = float(misses.sum() / totals.sum())
            entry["tar_at_threshold"] = 1 - entry["fnmr"]
            interval = bootstrap_over_identities(misses, totals, rng)
            entry["fnmr_ci95"] = list(interval) if isinstance(interval, tuple) else interval
        entries[name] = entry
    compared = {n: e for n, e in entries.items() if isinstance(e.get("fnmr_ci95"), list)}
    fnmrs = [e["fnmr"] for e in compared.values()]
    summary = {"groups_compared": sorted(compared), "groups_too_small_to_compare": sorted(set(entries) - set(compared)),
               "fnmr_max_over_min": max_over_min(fnmrs),
               "fnmr_max_minus_min": max(fnmrs) - min(fnmrs) if len(fnmrs) >= 2 else None,
               "highest_fnmr_group": max(compared, key=lambda n: compared[n]["fnmr"]) if compared else None}
    return {"groups": entries, "summary": summary}


def add_tar_lost(condition: dict[str, Any], clean: dict[str, Any]) -> None:
    """Set each group's ``tar_lost_vs_clean`` (clean TAR - this condition's TAR) in ``condition``."""
    for name, entry in condition["groups"].items():
        before = clean["groups"].get(name, {}).get("tar_at_threshold")
        if before is not None and "tar_at_threshold" in entry:
            entry["tar_lost_vs_clean"] = before - entry["tar_at_threshold"]
