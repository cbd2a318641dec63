"""Audit results -> one report folder (report.json / .md / .html and PNG plots), written with the
evaluation report writer (:mod:`facetrust.evaluation.report`) and its plotting helpers."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from facetrust.evaluation.plots import _figure, _save
from facetrust.evaluation.report import write_report


def _safe(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in label)


def plot_identity_lorenz(rates: Mapping[str, np.ndarray], path: Path, title: str) -> Path:
    """Lorenz curve of false matches over identities (sorted by FPR): the diagonal is perfect equality."""
    figure = _figure((6.4, 4.8), 100)
    axes = figure.add_subplot()
    for label, values in rates.items():
        values = np.sort(np.asarray(values, dtype=float))
        share = np.cumsum(values) / values.sum() if values.sum() > 0 else np.linspace(0, 1, len(values))
        axes.plot(np.linspace(0, 1, len(values) + 1), np.concatenate([[0], share]), label=label)
    axes.plot([0, 1], [0, 1], color="grey", linestyle="--", label="equal for every identity")
    axes.set_title(title)
    axes.set_xlabel("share of identities (lowest false-positive rate first)")
    axes.set_ylabel("share of false matches")
    axes.legend(loc="upper left", fontsize="small")
    return _save(figure, path)


def plot_group_rates(groups: Mapping[str, Mapping[str, Any]], metric: str, path: Path, title: str) -> Path:
    """Bars of ``metric`` per group with their bootstrap 95% intervals (groups without one: no bar)."""
    figure = _figure((6.4, 4.8), 100)
    axes = figure.add_subplot()
    names = [n for n, e in groups.items() if isinstance(e.get(metric), float)]
    values = [groups[n][metric] for n in names]
    low = [v - groups[n][f"{metric}_ci95"][0] if isinstance(groups[n].get(f"{metric}_ci95"), list) else 0
           for n, v in zip(names, values)]
    high = [groups[n][f"{metric}_ci95"][1] - v if isinstance(groups[n].get(f"{metric}_ci95"), list) else 0
            for n, v in zip(names, values)]
    axes.bar(range(len(names)), values, yerr=[low, high], capsize=4, color="tab:blue")
    axes.set_xticks(range(len(names)), [f"{n}\n({groups[n]['identities']} ids)" for n in names], fontsize="small")
    axes.set_title(title)
    axes.set_ylabel(f"{metric.upper()} (bars: bootstrap 95% over identities)")
    return _save(figure, path)


def plot_curves(curves: Mapping[str, tuple[list[float], list[float]]], path: Path, title: str, xlabel: str,
                ylabel: str) -> Path:
    """One line per label of (x, y) points."""
    figure = _figure((6.4, 4.8), 100)
    axes = figure.add_subplot()
    for label, (x, y) in curves.items():
        axes.plot(x, y, marker="o", label=label)
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.grid(True, alpha=0.4)
    axes.legend(loc="best", fontsize="small")
    return _save(figure, path)


def fairness_figures(fairness: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Lorenz curve (all recognizers overlaid) and per-group FMR/FNMR bars per recognizer and column."""
    figures = {"False matches over identities": plot_identity_lorenz(
        {label: r["identity"]["fpr_per_identity"] for label, r in fairness.items()},
        out_dir / "fairness_identity_lorenz.png", "Per-identity false-positive rate (CIFP)")}
    for label, result in fairness.items():
        for column, audit in result["groups"].items():
            for metric in ("fmr", "fnmr"):
                name = f"{metric.upper()} per {column} ({label})"
                figures[name] = plot_group_rates(audit["groups"], metric,
                                                 out_dir / f"fairness_{metric}_{_safe(column)}_{_safe(label)}.png", name)
    return figures


def without_arrays(data: Any) -> Any:
    """``data`` without numpy arrays (per-identity rates go to plots, not into the report)."""
    if isinstance(data, Mapping):
        return {k: without_arrays(v) for k, v in data.items() if not isinstance(v, np.ndarray)}
    return data


def write_audit_report(result: dict[str, Any], figures: Mapping[str, Path],
                       out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    json_path, md_path, html_path = write_report(without_arrays(result), Path(out_dir), figures)
    return {"json": json_path, "markdown": md_path, "html": html_path,
            **{f"plot_{_safe(n)}": p for n, p in figures.items()}}


FAIRNESS_NOTES = [
    "identity audit (CIFP): one global threshold at the FMR over every impostor comparison of the set; each "
    "identity's false-positive rate over its own impostor comparisons (each pair counts for both identities)",
    "group audit: within-group pairs only (both images labelled with the same group); cross-group impostor "
    "comparisons are left out of the per-group rates",
    "FDR = 1 - (0.5 max|FMR_i - FMR_j| + 0.5 max|FNMR_i - FNMR_j|) over the groups with both rates",
    "95% intervals: bootstrap over identities (1000 resamples); groups with fewer than 10 identities get no "
    "interval and say so",
]


def fairness_report(fairness: Mapping[str, Any], configuration: Mapping[str, Any], dataset: Mapping[str, Any],
                    notes: list[str]) -> dict[str, Any]:
    """The report dict: recognizers side by side in ``metrics``, worst identities per recognizer."""
    result: dict[str, Any] = {"protocol": "audit: fairness", "dataset": dict(dataset),
                              "configuration": dict(configuration), "metrics": {}, "notes": FAIRNESS_NOTES + notes}
    for label, audit in fairness.items():
        headline = {k: v for k, v in audit.items() if k != "identity"}
        headline["identity"] = {k: v for k, v in audit["identity"].items() if k != "worst_identities"}
        result["metrics"][label] = without_arrays(headline)
        result[f"worst identities ({label})"] = {
            w["identity"]: f"FPR {w['fpr']:.4g} ({w['false_matches']}/{w['impostor_comparisons']}, {w['images']} images)"
            for w in audit["identity"]["worst_identities"]}
    return result


ROBUSTNESS_NOTES = [
    "the second image of each pair (the probe) is perturbed, the first stays clean; faces are detected once on "
    "the clean images and that detection is reused (the face is re-aligned from it on the perturbed image)",
    "accuracy: LFW-style 10-fold accuracy with the threshold re-fit on the perturbed scores; TAR and FMR: at the "
    "recognizer's shipped threshold for the audit FMR (a deployed system's operating point)",
    "severities are listed mildest first; their units are in facetrust/perturb.py (SEVERITY_GRID)",
]

ROBUSTNESS_GROUP_NOTES = [
    "groups: a pair counts for a group when both images carry its label (pairs across groups are left out); "
    "FNMR at the shipped threshold over the group's genuine pairs, 95% interval by bootstrap over identities "
    "(groups under 10 identities get none and are not compared); tar_lost_vs_clean = clean TAR - TAR; "
    "false_matches counts same-group impostor pairs accepted (too few pairs to resolve a per-group FMR)",
]


def robustness_figures(robustness: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Per recognizer and metric: one curve per perturbation over severity levels 1-5 (0 = clean); with
    group labels, per column the FNMR gap between its groups (max - min) the same way."""
    figures = {}
    for label, result in robustness.items():
        series = [(f"{caption} under perturbations ({label})", caption,
                   lambda level, metric=metric: level[metric], f"robustness_{metric}_{_safe(label)}")
                  for metric, caption in (("accuracy", "accuracy (10-fold, threshold re-fit)"),
                                          ("tar_at_threshold", "TAR at the FMR threshold"))]
        series += [(f"FNMR gap between {column} groups ({label})", f"FNMR max - min over the {column} groups",
                    lambda level, column=column: level["groups"][column]["summary"]["fnmr_max_minus_min"],
                    f"robustness_fnmr_gap_{_safe(column)}_{_safe(label)}")
                   for column in result["clean"].get("groups", {})]
        for name, ylabel, read, stem in series:
            curves = {kind: (list(range(len(levels) + 1)),
                             [np.nan if v is None else v for v in map(read, [result["clean"], *levels])])
                      for kind, levels in result["perturbations"].items()}
            figures[name] = plot_curves(curves, out_dir / f"{stem}.png", name, "severity level (0 = clean)", ylabel)
    return figures


def _conditions(result: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """("clean", metrics) then ("blur 1", metrics), ... in the audit's order."""
    return [("clean", result["clean"])] + [(f"{kind} {level['severity']:g}", level)
                                          for kind, levels in result["perturbations"].items() for level in levels]


def _with_group_summaries(level: Mapping[str, Any]) -> dict[str, Any]:
    """A condition's metrics with only the summary of each group column (the per-group rates get a section)."""
    entry = {k: v for k, v in level.items() if k not in ("severity", "groups")}
    if "groups" in level:
        entry["groups"] = {column: rates["summary"] for column, rates in level["groups"].items()}
    return entry


def robustness_report(robustness: Mapping[str, Any], configuration: Mapping[str, Any],
                      dataset: Mapping[str, Any]) -> dict[str, Any]:
    metrics = {}
    per_group: dict[str, Any] = {}
    for label, result in robustness.items():
        entry: dict[str, Any] = {k: result[k] for k in ("pairs", "left_out", "probes", "threshold")}
        entry["clean"] = _with_group_summaries(result["clean"])
        entry["timing"] = result["timing"]  # where the time went: detection, perturbation, alignment, embedding
        for kind, levels in result["perturbations"].items():
            entry[kind] = {f"{level['severity']:g}": _with_group_summaries(level) for level in levels}
        metrics[label] = entry
        for column in result["clean"].get("groups", {}):
            per_group[f"{column} groups ({label})"] = {name: level["groups"][column]["groups"]
                                                      for name, level in _conditions(result)}
    notes = list(ROBUSTNESS_NOTES) + (list(ROBUSTNESS_GROUP_NOTES) if per_group else [])
    return {"protocol": "audit: robustness", "dataset": dict(dataset), "configuration": dict(configuration),
            "metrics": metrics, **per_group, "notes": notes}


CHECK_FLIP_NOTES = [
    "each image is checked clean and under every perturbation; the face is detected once on the clean image "
    "(the check's own detector, largest face) and that detection is reused for the perturbed copies",
    "flip_rate: share of the images decided clean (live/spoof, real/fake) that are decided the other way when "
    "perturbed; to_unavailable_rate: share of them the check declines when perturbed (not fooled, but no "
    "decision); transitions list every change of status",
    "severities are listed mildest first; their units are in facetrust/perturb.py (SEVERITY_GRID)",
]


def check_flip_figures(audits: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Per check: flip rate and declined rate over severity levels 1-5 (0 = clean), one curve per perturbation."""
    figures = {}
    for check, result in audits.items():
        for metric, caption in (("flip_rate", "decisions flipped"), ("to_unavailable_rate", "decisions declined")):
            curves = {kind: (list(range(len(levels) + 1)), [0.0] + [lv[metric] or 0.0 for lv in levels])
                      for kind, levels in result["perturbations"].items()}
            name = f"{check}: {caption} under perturbations"
            figures[name] = plot_curves(curves, out_dir / f"check_{metric}_{_safe(check)}.png", name,
                                        "severity level (0 = clean)", f"share of the clean decisions ({caption})")
    return figures


def check_flip_report(audits: Mapping[str, Any], configuration: Mapping[str, Any],
                      dataset: Mapping[str, Any]) -> dict[str, Any]:
    metrics = {}
    for check, result in audits.items():
        entry: dict[str, Any] = {k: result[k] for k in ("images", "no_face", "unreadable", "duplicates")}
        entry["clean"] = result["clean"]
        for kind, levels in result["perturbations"].items():
            entry[kind] = {f"{level['severity']:g}": {k: v for k, v in level.items() if k != "severity"}
                           for level in levels}
        metrics[check] = entry
    return {"protocol": "audit: check robustness", "dataset": dict(dataset), "configuration": dict(configuration),
            "metrics": metrics, "notes": list(CHECK_FLIP_NOTES)}


ADVERSARIAL_NOTES = [
    "white-box FGSM / PGD (L-inf, eps in 1/255, PGD --steps steps of eps/4, default 10) with adversarial-robustness-toolbox on the "
    "probe photo through the recognizer's own alignment warp; the recognizer's ONNX graph converted to PyTorch "
    "with onnx2torch (same weights); ART's mask keeps every pixel the alignment does not read unchanged",
    "eyes: the same PGD with the mask restricted to a band over both eyes (2 x 0.6 eye distances, from the 5 "
    "landmarks; the adversarial-makeup / eyeglasses threat); eps=255 = unbounded inside the band",
    "success: the decision at the FMR threshold flips (dodging: a genuine pair rejected; impersonation: an impostor "
    "pair accepted), measured on the attacked photo rounded to 8 bits, re-aligned from the clean detection; only "
    "pairs the clean system decides right are attacked; rates with Wilson 95% intervals",
    "purification: jpeg75 = JPEG quality 75, blur1 = Gaussian blur sigma 1 px, applied to the whole attacked photo",
    "transfer: the attacked photos re-scored by other recognizers (black-box), each with its own alignment and its "
    "own shipped threshold at the FMR, over the pairs it decides right when clean",
    "flagged: fraction of photos the quality (low), liveness (spoof) and forgery (fake) checks flag, clean vs "
    "attacked; 'unavailable' counts photos a check could not score (liveness needs colour); check_scores: per "
    "attack, each check's mean score on the clean and the attacked photo, the mean and largest change, and how "
    "often its decision changed",
    "detector: PGD (L-inf, --steps steps of eps/4) on the whole photo against the detector's largest face score "
    "(ONNX graph converted with onnx2torch); dodged = the deployed detector finds no face overlapping the clean "
    "box (IoU >= 0.5), again after purification, and with the other detector (transfer)",
]


def adversarial_figures(adversarial: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Per recognizer and attack: white-box and transfer success over eps, one curve per goal and scorer."""
    figures = {}
    for label, result in adversarial.items():
        by_attack: dict[str, dict[str, tuple[list[float], list[float]]]] = {}
        for name, rates in result["attacks"].items():
            attack, _, eps = name.partition(" eps=")
            curves = by_attack.setdefault(attack, {})
            for key, entry in rates.items():
                if key.startswith("flagged") or entry["rate"] is None:
                    continue
                x, y = curves.setdefault(key, ([], []))
                x.append(float(eps))
                y.append(entry["rate"])
        for attack, curves in by_attack.items():
            name = f"{attack} success rate ({label})"
            figures[name] = plot_curves(curves, out_dir / f"adversarial_{_safe(attack)}_{_safe(label)}.png", name,
                                        "eps (x 1/255, L-inf)", "success rate (decision flipped)")
    return figures


def adversarial_report(adversarial: Mapping[str, Any], configuration: Mapping[str, Any],
                       dataset: Mapping[str, Any]) -> dict[str, Any]:
    return {"protocol": "audit: adversarial", "dataset": dict(dataset), "configuration": dict(configuration),
            "metrics": {label: dict(result) for label, result in adversarial.items()}, "notes": list(ADVERSARIAL_NOTES)}
