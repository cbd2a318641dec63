"""False alarms of forgery detectors on real colour faces, overall and per gender and race group.

Every face of a :mod:`facetrust.forensics.colour_faces` split is checked in two crop forms,
as ``facetrust forgery --crops`` checks face-crop datasets (re-detected; the whole image
is the face where no face is found):

* ``original``: the stored crop as it is (UTKFace: 200x200, the face fills most of it);
* ``aligned112``: the face ArcFace-aligned to 112x112 from the detector's landmarks on the
  original — the form many face pipelines store.

Every face is real, so every P(fake) >= threshold is a false alarm. Operating thresholds
are chosen on the ``calibration`` split (:func:`calibrated_threshold`) and applied to the
``evaluation`` split (docs/forensics.md, "Second pass"). Scores are cached per
(form, file, model file), so an interrupted run resumes.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from facetrust.defaults import DEFAULT_CHECK_DETECTOR
from facetrust.forensics.cache import ScoreCache
from facetrust.forensics.colour_faces import ColourFace, Split
from facetrust.progress import Progress, track

if TYPE_CHECKING:
    from facetrust.forensics.sbi import ModelFiles

CROP_FORMS = ("original", "aligned112")
#: Calibration target: at most this share of the calibration split's real faces at or above the threshold.
CALIBRATION_FPR = 0.03
GROUP_COLUMNS = ("gender", "race")
#: Reported beside the gender and race groups; not part of the pre-registered target.
AGE_COLUMN = "age_group"


def age_group(age: int | None) -> str | None:
    """The age bin of ``age`` in the bins the attribute evaluation uses (``AGE_BINS``), e.g. ``"20-29"``."""
    from facetrust.attributes.evaluation import AGE_BINS

    if age is None:
        return None
    low, high = next((a, b) for a, b in zip(AGE_BINS[:-1], AGE_BINS[1:]) if age < b)
    return f"{low}-{high - 1}" if high < AGE_BINS[-1] else f"{low}+"


def crop_form(image: np.ndarray, form: str, analyzer: Any) -> tuple[np.ndarray | None, str | None]:
    """(the image in ``form``, None) or (None, why it cannot be made)."""
    from facetrust.alignment.similarity import align_arcface
    from facetrust.forensics.faces import detect_faces

    if form == "original":
        return image, None
    if form != "aligned112":
        raise ValueError(f"unknown crop form {form!r}; choose from {CROP_FORMS}")
    faces = detect_faces(analyzer, image)
    if not faces:
        return None, "no face detected in the original to align"
    return align_arcface(image, faces[0].landmarks, 112), None


def score_colour_faces(faces: Sequence[ColourFace], checkers: Mapping[str, Any], versions: Mapping[str, str],
                       cache: ScoreCache, progress: Progress = False) -> list[dict[str, Any]]:
    """One row per (face, crop form): labels, and each checker's P(fake) (None when unavailable).

    ``checkers``: name -> :class:`~facetrust.forensics.checker.ForgeryChecker` (built with
    ``crop_fallback=True``; they share one face analyzer); ``versions``: name -> the model
    version the cache keys by (e.g. :func:`facetrust.forensics.cache.detector_version`).
    """
    from facetrust.io.image import load_image

    first = next(iter(checkers.values()))
    rows = []
    for face in track(faces, len(faces), "scoring real colour faces", progress, unit="faces"):
        image = None
        for form in CROP_FORMS:
            row: dict[str, Any] = {"file": face.path.name, "gender": face.gender, "race": face.race,
                                   AGE_COLUMN: age_group(face.age), "split": face.split, "form": form}
            crop = found = reason = None
            for name, checker in checkers.items():
                # a detector that declines gray faces gives other rows than the same weights without that rule
                rule = "|colour-only" if getattr(checker.detector, "needs_colour", False) else ""
                key = f"colour|{form}|{face.path.name}|{versions[name]}{rule}"
                cached = cache.get(key)
                if cached is None:
                    if image is None:
                        image = load_image(face.path)
                    if crop is None and reason is None:  # detect once per form for all checkers
                        crop, reason = crop_form(image, form, first.analyzer)
                        found = None if crop is None else first.detect(crop)[0]
                    result = None if crop is None else checker.check_face(crop, found)
                    cached = {"score": None, "reason": reason} if result is None else \
                        {"score": result.score, "reason": result.reason}
                    cache.put(key, cached)
                row[name] = cached["score"]
                row[f"{name}_reason"] = cached["reason"]
            rows.append(row)
    return rows


def add_mean(rows: list[dict[str, Any]], name: str, members: Sequence[str]) -> None:
    """Add column ``name``: the mean of ``members``' scores where all of them scored (a fusion)."""
    for row in rows:
        values = [row[m] for m in members]
        row[name] = None if any(v is None for v in values) else float(np.mean(values))


def calibrated_threshold(scores: Sequence[float], fpr: float = CALIBRATION_FPR) -> float:
    """Lowest threshold t (rounded up to 1e-4) with at most ``fpr`` of ``scores`` >= t."""
    values = np.sort(np.asarray([s for s in scores if s is not None], dtype=np.float64))[::-1]
    if len(values) == 0:
        raise ValueError("no scores to calibrate a threshold on")
    allowed = int(math.floor(fpr * len(values)))
    if allowed >= len(values):
        return 0.0
    above = values[allowed]  # the highest score that must fall below t
    return min(1.0, math.floor(above * 1e4 + 1) / 1e4)


def false_alarm_rates(rows: Sequence[Mapping[str, Any]], model: str, threshold: float,
                      columns: Sequence[str] = GROUP_COLUMNS) -> dict[str, Any]:
    """FPR at ``threshold`` of ``model``'s column: overall and per group of each of ``columns``
    (default gender and race), each with a 95% bootstrap interval; per column, the largest group
    FPR over the overall one. Rows without a value in a column are left out of its groups."""
    from facetrust.attributes.evaluation import bootstrap_ci

    scored = [r for r in rows if r[model] is not None]

    def summary(subset: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        alarms = np.array([r[model] >= threshold for r in subset], dtype=np.float64)
        return {"n": len(subset), "false_alarms": int(alarms.sum()),
                "fpr": round(float(alarms.mean()), 4) if len(subset) else None, "ci95": bootstrap_ci(alarms)}

    overall = summary(scored)
    out: dict[str, Any] = {"model": model, "threshold": threshold, "overall": overall,
                           "unavailable": len(rows) - len(scored)}
    for column in columns:
        names = sorted({r[column] for r in scored if r[column] is not None}, key=_group_order)
        groups = {g: summary([r for r in scored if r[column] == g]) for g in names}
        worst = max(groups, key=lambda g: groups[g]["fpr"]) if groups else None
        ratio = (groups[worst]["fpr"] / overall["fpr"]) if worst and overall["fpr"] else None
        out[column] = {"groups": groups, "worst": worst,
                       "max_over_overall": None if ratio is None else round(ratio, 3)}
    return out


def _group_order(name: str) -> tuple[int, str]:
    """Age bins in numeric order ("3-9" before "10-19"), other group names alphabetically."""
    head = name.split("-")[0].rstrip("+")
    return (int(head), name) if head.isdigit() else (-1, name)


def build_checkers(models: Sequence[str], sbi_model_file: ModelFiles | None = None, device: str = "cpu",
                   face_detector: str = DEFAULT_CHECK_DETECTOR, sbi_views: str = "one",
                   ) -> tuple[dict[str, Any], dict[str, str]]:
    """Checkers (sharing one face analyzer with ``face_detector``, ``crop_fallback=True``) and their
    cache versions; with ``sbi_model_file``, ``sbi`` runs that file (a candidate) instead of the
    packaged model — several files, their score ensemble (keyed like the packaged ones would be);
    ``sbi_views``: the test-time views ``sbi`` averages (``SBIDetector(views=...)``).
    Another face detector gives other crops, so it is part of the version."""
    from facetrust.forensics.cache import detector_version
    from facetrust.forensics.checker import ForgeryChecker
    from facetrust.forensics.sbi import as_model_files
    from facetrust.zoo.store import sha256_of

    checkers: dict[str, Any] = {}
    versions: dict[str, str] = {}
    analyzer = None
    faces = "" if face_detector == DEFAULT_CHECK_DETECTOR else f"|faces={face_detector}"
    for name in models:
        files = as_model_files(sbi_model_file) if name == "sbi" and sbi_model_file else []
        options: dict[str, Any] = {"model_file": files} if files else {}
        views = sbi_views if name == "sbi" else "one"
        if views != "one":
            options["views"] = views
        checker = ForgeryChecker(name, analyzer=analyzer, face_detector=face_detector, device=device,
                                 crop_fallback=True, detector_options=options)
        analyzer = checker.analyzer
        checkers[name] = checker
        versions[name] = ("sbi@" + ",".join(sha256_of(f)[:16] for f in files) if files
                          else detector_version(name)) + ("" if views == "one" else f"|views={views}") + faces
    return checkers, versions


def evaluate_false_alarms(root: Any, models: Sequence[str], cache: ScoreCache, sbi_model_file: ModelFiles | None = None,
                          fusion: Sequence[str] = ("sbi", "mesonet"), device: str = "cpu",
                          per_race: Mapping[str, int | None] | None = None,
                          progress: Progress = False, sbi_views: str = "one") -> dict[str, Any]:
    """Thresholds from the calibration split, false alarms on the evaluation split (see the module doc).

    ``fusion``: when all its members are among ``models``, their mean is scored as ``fusion``.
    ``per_race``: split -> at most that many faces per race (:func:`read_utkface`; default all).
    Only (face, crop form) rows that every model decided are used (the others are counted).
    Returns thresholds per model (per crop form and the larger one, the operating threshold)
    and, per model and crop form, :func:`false_alarm_rates` at that threshold and at 0.5.
    """
    from facetrust.forensics.colour_faces import read_utkface

    checkers, versions = build_checkers(models, sbi_model_file, device, sbi_views=sbi_views)
    limits = dict(per_race or {})
    rows = {split: score_colour_faces(read_utkface(root, split, limits.get(split)), checkers, versions, cache,
                                      progress) for split in ("calibration", "evaluation")}
    names = list(models)
    if fusion and all(m in models for m in fusion):
        for split_rows in rows.values():
            add_mean(split_rows, "fusion", fusion)
        names.append("fusion")
    # compare the models on the same faces: rows where every model gave a decision
    left_out = {split: sum(any(r[n] is None for n in names) for r in split_rows) for split, split_rows in rows.items()}
    rows = {split: [r for r in split_rows if all(r[n] is not None for n in names)] for split, split_rows in rows.items()}
    thresholds, rates = {}, {}
    for name in names:
        per_form = {form: calibrated_threshold([r[name] for r in rows["calibration"] if r["form"] == form])
                    for form in CROP_FORMS}
        thresholds[name] = {"per_form": per_form, "operating": max(per_form.values())}
        rates[name] = {form: {"calibrated": false_alarm_rates([r for r in rows["evaluation"] if r["form"] == form],
                                                              name, thresholds[name]["operating"]),
                              "at_0.5": false_alarm_rates([r for r in rows["evaluation"] if r["form"] == form],
                                                          name, 0.5)}
                       for form in CROP_FORMS}
    return {"models": names, "versions": versions, "sbi_model_file": sbi_model_file, "per_race": limits,
            "faces": {split: len(split_rows) // len(CROP_FORMS) for split, split_rows in rows.items()},
            "face_forms_without_a_decision": left_out,
            "calibration_fpr": CALIBRATION_FPR, "thresholds": thresholds, "false_alarms": rates}


def _percent(summary: Mapping[str, Any]) -> str:
    if summary["fpr"] is None:
        return "–"
    low, high = summary["ci95"]
    return f"{100 * summary['fpr']:.1f}% [{100 * low:.1f}, {100 * high:.1f}] ({summary['false_alarms']}/{summary['n']})"


def markdown_tables(result: Mapping[str, Any], at: str = "calibrated") -> str:
    """Markdown tables of :func:`evaluate_false_alarms`' result: per crop form, one row per model with
    the threshold, overall FPR and every gender and race group's FPR (95% CI, alarms/faces), and the
    largest group FPR over the overall one. ``at``: ``"calibrated"`` or ``"at_0.5"``."""
    lines = []
    for form in CROP_FORMS:
        first = result["false_alarms"][result["models"][0]][form][at]
        groups = [(column, g) for column in GROUP_COLUMNS for g in first[column]["groups"]]
        lines += [f"**{form}** ({'calibrated thresholds' if at == 'calibrated' else 'threshold 0.5'})", "",
                  "| model | threshold | overall FPR | " + " | ".join(g for _, g in groups)
                  + " | max/overall gender | max/overall race |",
                  "|---" * (len(groups) + 5) + "|"]
        for model in result["models"]:
            rates = result["false_alarms"][model][form][at]
            cells = [_percent(rates[column]["groups"][g]) for column, g in groups]
            ratios = [str(rates[column]["max_over_overall"]) for column in GROUP_COLUMNS]
            lines.append(f"| {model} | {rates['threshold']:.4f} | {_percent(rates['overall'])} | "
                         + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
        lines.append("")
    return "\n".join(lines)


#: The pre-registered target (docs/forensics.md): overall FPR at most 5% in every crop form, and no
#: gender or race group above twice the overall FPR.
TARGET_FPR, TARGET_GROUP_RATIO = 0.05, 2.0


def meets_target(result: Mapping[str, Any], model: str) -> dict[str, Any]:
    """Criteria (a) and (b) of the pre-registered rule for ``model`` at its calibrated threshold."""
    return target_check({form: result["false_alarms"][model][form]["calibrated"] for form in CROP_FORMS})


def target_check(rates_per_form: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Criteria (a) and (b) on :func:`false_alarm_rates` results, one per crop form."""
    out: dict[str, Any] = {}
    for form, rates in rates_per_form.items():
        ratios = [rates[column]["max_over_overall"] for column in GROUP_COLUMNS]
        out[form] = {"fpr_ok": rates["overall"]["fpr"] <= TARGET_FPR,
                     "groups_ok": all(r is not None and r <= TARGET_GROUP_RATIO for r in ratios)
                     or rates["overall"]["false_alarms"] == 0}
    out["passes"] = all(v["fpr_ok"] and v["groups_ok"] for v in out.values())
    return out


def shipped_threshold(model: str) -> float:
    """The operating threshold ``model`` ships with (its ``default_threshold``, else 0.5)."""
    from facetrust.forensics import FORGERY_DETECTORS
    from facetrust.forensics.checker import DEFAULT_THRESHOLD

    return float(getattr(FORGERY_DETECTORS.get_class(model), "default_threshold", DEFAULT_THRESHOLD))


def false_alarms_at_threshold(root: Any, model: str, threshold: float, cache: ScoreCache,
                              sbi_model_file: ModelFiles | None = None, split: Split = "evaluation",
                              per_race: int | None = None, device: str = "cpu",
                              progress: Progress = False, face_detector: str = DEFAULT_CHECK_DETECTOR,
                              sbi_views: str = "one") -> dict[str, Any]:
    """False alarms of one model at a fixed ``threshold`` (e.g. the shipped one) on a whole split:
    per crop form, :func:`false_alarm_rates` per gender, race and age group, and the target check
    (:func:`target_check`; age groups are reported, not part of it). No threshold is fitted.
    ``face_detector`` finds (and, for aligned crops, aligns) the faces."""
    from facetrust.forensics.colour_faces import read_utkface

    checkers, versions = build_checkers([model], sbi_model_file, device, face_detector, sbi_views)
    rows = score_colour_faces(read_utkface(root, split, per_race), checkers, versions, cache, progress)
    rates = {form: false_alarm_rates([r for r in rows if r["form"] == form], model, threshold,
                                     GROUP_COLUMNS + (AGE_COLUMN,)) for form in CROP_FORMS}
    return {"model": model, "version": versions[model], "face_detector": face_detector, "split": split,
            "per_race": per_race, "threshold": threshold, "faces": len(rows) // len(CROP_FORMS), "false_alarms": rates,
            "target": target_check(rates)}


def calibrate_model(root: Any, model: str, cache: ScoreCache, sbi_model_file: ModelFiles | None = None,
                    per_race: int | None = None, device: str = "cpu", progress: Progress = False,
                    sbi_views: str = "one") -> dict[str, Any]:
    """The operating threshold of one model from the ``calibration`` split alone: per crop form the
    :func:`calibrated_threshold` of the faces it decided (faces it declines, e.g. gray ones for a
    colour-only detector, are left out and counted), and the larger of the two."""
    from facetrust.forensics.colour_faces import read_utkface

    checkers, versions = build_checkers([model], sbi_model_file, device, sbi_views=sbi_views)
    rows = score_colour_faces(read_utkface(root, "calibration", per_race), checkers, versions, cache, progress)
    per_form, decided = {}, {}
    for form in CROP_FORMS:
        scores = [r[model] for r in rows if r["form"] == form and r[model] is not None]
        per_form[form], decided[form] = calibrated_threshold(scores), len(scores)
    return {"model": model, "version": versions[model], "per_race": per_race, "faces": len(rows) // len(CROP_FORMS),
            "decided": decided, "calibration_fpr": CALIBRATION_FPR, "per_form": per_form,
            "operating": max(per_form.values())}


def group_table(result: Mapping[str, Any]) -> str:
    """Markdown of :func:`false_alarms_at_threshold`' result: one row per group (overall, then each
    gender, race and age group), one column per crop form with FPR [95% CI] (alarms/faces)."""
    rates = result["false_alarms"]
    forms = list(rates)
    lines = ["| group | " + " | ".join(forms) + " |", "|---" * (len(forms) + 1) + "|",
             "| **overall** | " + " | ".join(_percent(rates[f]["overall"]) for f in forms) + " |"]
    for column in GROUP_COLUMNS + (AGE_COLUMN,):
        for group in rates[forms[0]][column]["groups"]:
            cells = [_percent(rates[f][column]["groups"][group]) if group in rates[f][column]["groups"] else "–"
                     for f in forms]
            lines.append(f"| {column.split('_')[0]} {group} | " + " | ".join(cells) + " |")
        lines.append(f"| *max/overall, {column.split('_')[0]}* | "
                     + " | ".join(f"{rates[f][column]['max_over_overall']} ({rates[f][column]['worst']})" for f in forms)
                     + " |")
    return "\n".join(lines) + "\n"
