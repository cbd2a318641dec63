"""``facetrust eval forgery``: frame- and video-level detection metrics, per-method
breakdown and robustness under perturbations, for any labelled list of images and videos.

Labels CSV: columns ``file`` and ``label`` (``real`` or ``fake``), optional ``method``
(the manipulation; another column can be chosen; when absent, the file's top-level
folder stands in for it). Relative
paths resolve against ``root`` (default: the CSV's folder).

* **Frame level**: an image is one frame (its largest face); a video contributes every
  sampled frame of its subject track. Positive class = fake; scores are P(fake).
* **Video level**: a video's score is its subject track's mean; images can be grouped
  into videos with ``group_pattern``, a regular expression whose first group, matched on
  the file name, names the video (e.g. ``^([a-z]+)-`` for DFDC crops ``abcd-004-01.png``);
  the group's score is the mean of its images'. Identity drift is scored for videos only.
* **Metrics**: AUC, average precision (AP), EER, and accuracy / TPR / FPR at the
  detector's own operating point (its ``default_threshold``: sbi 0.7358, fusion 0.8577,
  MesoNet 0.5; not fitted to the data). Faces that get no
  decision (too small, none detected) are counted as unavailable and left out.
* **Per method**: the rows of each method; when a method has one class only (fakes of
  one manipulation), its fakes are scored against all real rows.
* **Robustness**: frame-level AUC of the image rows re-scored after each perturbation
  (:mod:`facetrust.perturb`); faces are re-detected on the perturbed image.
* **Fusion**: the mean of the detectors' P(fake) where all of them scored a frame.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from facetrust.defaults import DEFAULT_CHECK_DETECTOR
from facetrust.errors import ConfigError, FacetrustError
from facetrust.evaluation.metrics import auc, eer, roc
from facetrust.evaluation.report import headline_rows
from facetrust.forensics.cache import ScoreCache, detector_version
from facetrust.io.sources import is_video as is_video_file
from facetrust.progress import Progress, track

FUSION = "fusion"


@dataclass(frozen=True)
class LabelledItem:
    path: Path
    fake: bool
    method: str
    group: str
    is_video: bool


def read_forgery_labels(csv_path: Path, root: Path | None = None, group_pattern: str | None = None,
                        skip_missing: bool = False, method_column: str = "method") -> tuple[list[LabelledItem], list[str]]:
    """Items of a labels CSV and notes on skipped rows; ConfigError on malformed input.

    ``method_column`` names the column used for the per-method breakdown (default ``method``;
    where it is absent or empty, the file's top-level folder)."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise ConfigError(f"{csv_path}: no such labels file")
    root = csv_path.parent if root is None else Path(root)
    pattern = re.compile(group_pattern) if group_pattern else None
    items, notes = [], []
    with csv_path.open(newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        missing = {"file", "label"} - set(reader.fieldnames or [])
        if missing:
            raise ConfigError(f"{csv_path}: missing column(s) {', '.join(sorted(missing))} (need file,label[,method])")
        for line, row in enumerate(reader, start=2):
            label = (row["label"] or "").strip().lower()
            if label not in ("real", "fake"):
                raise ConfigError(f"{csv_path}:{line}: label must be 'real' or 'fake', got {row['label']!r}")
            relative = (row["file"] or "").strip()
            path = root / relative
            if not path.is_file():
                if skip_missing:
                    notes.append(f"skipped missing file {relative}")
                    continue
                raise ConfigError(f"{csv_path}:{line}: {path} does not exist (use --skip-missing to skip)")
            method = (row.get(method_column) or "").strip() or Path(relative).parts[0]
            is_video = is_video_file(path)
            group = relative
            if pattern is not None and not is_video:
                match = pattern.search(path.name)
                group = match.group(1) if match and match.groups() else relative
            items.append(LabelledItem(path, label == "fake", method, group, is_video))
    if not items:
        raise ConfigError(f"{csv_path}: no rows")
    return items, notes


# --------------------------------------------------------------------------- metrics


def average_precision(scores: np.ndarray, positive: np.ndarray) -> float:
    """Step-wise AP over distinct thresholds (as ``sklearn.metrics.average_precision_score``)."""
    scores, positive = np.asarray(scores, np.float64), np.asarray(positive, bool)
    thresholds = np.unique(scores)[::-1]
    pos, neg = np.sort(scores[positive]), np.sort(scores[~positive])
    tp = len(pos) - np.searchsorted(pos, thresholds, side="left")
    fp = len(neg) - np.searchsorted(neg, thresholds, side="left")
    recall = tp / max(len(pos), 1)
    precision = tp / np.maximum(tp + fp, 1)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def detection_metrics(scores: Sequence[float], fake: Sequence[bool], threshold: float) -> dict[str, Any]:
    """AUC, AP, EER and accuracy/TPR/FPR at ``threshold`` (fake when score >= threshold)."""
    scores_arr, fake_arr = np.asarray(scores, np.float64), np.asarray(fake, bool)
    out: dict[str, Any] = {"n_real": int((~fake_arr).sum()), "n_fake": int(fake_arr.sum())}
    if len(scores_arr) == 0:
        return out
    flagged = scores_arr >= threshold
    out["accuracy"] = float(np.mean(flagged == fake_arr))
    if fake_arr.any():
        out["tpr"] = float(np.mean(flagged[fake_arr]))
    if (~fake_arr).any():
        out["fpr"] = float(np.mean(flagged[~fake_arr]))
    if fake_arr.any() and (~fake_arr).any():
        rate, at = eer(scores_arr, fake_arr)
        out.update(auc=auc(scores_arr, fake_arr), ap=average_precision(scores_arr, fake_arr), eer=rate,
                   eer_threshold=at)
    return out


# --------------------------------------------------------------------------- scoring


@dataclass
class ItemScores:
    """Per detector: (frame, score | None, reason | None) of the item's subject; drift for videos."""

    frames: dict[str, list[tuple[int, float | None, str | None]]] = field(default_factory=dict)
    drift: float | None = None
    error: str | None = None


def _largest_face_results(checkers: Sequence[Any], image: np.ndarray) -> dict[str, list]:
    faces = checkers[0].detect(image)
    if not faces:
        return {c.detector_name: [(0, None, "no face detected")] for c in checkers}
    face = faces[0]
    out = {}
    for checker in checkers:
        result = checker.check_face(image, face)
        out[checker.detector_name] = [(0, result.score, result.reason)]
    return out


def score_item(item: LabelledItem, checkers: Sequence[Any], perturbation: Any = None, every_seconds: float = 0.2,
               max_frames: int | None = 100) -> ItemScores:
    """Scores of one labelled item by every checker; typed input errors become ``error``."""
    from facetrust.forensics.video import scan_video
    from facetrust.io.image import load_image

    try:
        if item.is_video:
            videos = scan_video(checkers, item.path, every_seconds=every_seconds, max_frames=max_frames)
            frames = {}
            for checker, video in zip(checkers, videos):
                subject = video.subject
                if subject is None:
                    frames[checker.detector_name] = [(0, None, video.reason)]
                else:
                    frames[checker.detector_name] = [(f.frame, f.result.score, f.result.reason) for f in subject.frames]
            subject = videos[0].subject
            drift = None if subject is None or subject.drift is None else subject.drift.score
            return ItemScores(frames, drift)
        image = load_image(item.path)
        if perturbation is not None:
            image = perturbation(image)
        return ItemScores(_largest_face_results(checkers, image))
    except FacetrustError as exc:
        return ItemScores({c.detector_name: [] for c in checkers}, error=str(exc))


def _cache_key(item: LabelledItem, detector: str, settings: str) -> str:
    from facetrust.evaluation.cache import content_hash

    return f"{content_hash(item.path)}|{settings}|{detector_version(detector)}"


def score_items(items: Sequence[LabelledItem], checkers: Sequence[Any], cache: ScoreCache,
                perturbation: str | None = None, every_seconds: float = 0.2, max_frames: int | None = 100,
                progress: Progress = True) -> list[ItemScores]:
    """Score every item (resuming from ``cache``); ``progress`` as in :mod:`facetrust.progress`."""
    from facetrust.perturb import parse_perturbation

    function = parse_perturbation(perturbation) if perturbation else None
    first = checkers[0]
    settings = (f"{perturbation or 'clean'}|every={every_seconds}|max={max_frames}|faces={first.face_detector}"
                f"|fallback={first.crop_fallback}|min={first.min_face_side}")  # scores do not depend on thresholds
    results = []
    for item in track(items, len(items), f"scoring ({perturbation or 'clean'})", progress, unit="items"):
        if item.is_video and function is not None:
            results.append(None)
            continue
        keys = {c.detector_name: _cache_key(item, c.detector_name, settings) for c in checkers}
        cached = {name: cache.get(key) for name, key in keys.items()}
        if all(v is not None for v in cached.values()):
            first_value = next(iter(cached.values()))
            results.append(ItemScores({n: [tuple(f) for f in v["frames"]] for n, v in cached.items()},
                                      first_value.get("drift"), first_value.get("error")))
        else:
            scored = score_item(item, checkers, function, every_seconds, max_frames)
            for name, key in keys.items():
                cache.put(key, {"frames": scored.frames.get(name, []), "drift": scored.drift, "error": scored.error})
            results.append(scored)
    return results


# --------------------------------------------------------------------------- aggregation


def _frame_table(items: Sequence[LabelledItem], scored: Sequence[ItemScores | None], names: Sequence[str]
                 ) -> dict[str, tuple[list[float], list[bool], list[str], list[str], int]]:
    """Per detector (and fusion): frame scores, labels, methods, groups and the unavailable count."""
    table: dict[str, tuple[list, list, list, list, int]] = {}
    for name in [*names, FUSION] if len(names) > 1 else names:
        scores, labels, methods, groups, unavailable = [], [], [], [], 0
        for item, result in zip(items, scored):
            if result is None:
                continue
            members = names if name == FUSION else [name]
            per_member = [dict((f[0], f[1]) for f in result.frames.get(m, [])) for m in members]
            frames = sorted(set().union(*[set(p) for p in per_member])) if per_member else []
            if result.error or not frames:
                unavailable += 1
                continue
            for frame in frames:
                values = [p.get(frame) for p in per_member]
                if any(v is None for v in values):
                    unavailable += 1
                    continue
                scores.append(float(np.mean(values)))
                labels.append(item.fake)
                methods.append(item.method)
                groups.append(item.group)
        table[name] = (scores, labels, methods, groups, unavailable)
    return table


def _per_method(scores: list[float], labels: list[bool], methods: list[str], threshold: float) -> dict[str, Any]:
    scores_arr, labels_arr, methods_arr = np.asarray(scores), np.asarray(labels, bool), np.asarray(methods)
    out = {}
    for method in sorted(set(methods)):
        mine = methods_arr == method
        if labels_arr[mine].all():  # fakes only: against every real frame
            mine = mine | ~labels_arr
        out[method] = detection_metrics(scores_arr[mine], labels_arr[mine], threshold)
    return out


def _video_level(items: Sequence[LabelledItem], table: tuple, threshold: float) -> dict[str, Any]:
    scores, labels, _, groups, _ = table
    by_group: dict[str, list[float]] = {}
    label_of: dict[str, bool] = {}
    for score, label, group in zip(scores, labels, groups):
        by_group.setdefault(group, []).append(score)
        label_of[group] = label
    names = sorted(by_group)
    return detection_metrics([float(np.mean(by_group[g])) for g in names], [label_of[g] for g in names], threshold)


def fusion_threshold(detectors: Sequence[str]) -> float:
    """Operating threshold of the mean of ``detectors``: the registered ``fusion``'s when they are its
    default members, else the plain 0.5."""
    from facetrust.forensics import FORGERY_DETECTORS
    from facetrust.forensics.checker import DEFAULT_THRESHOLD, ForgeryChecker

    members = getattr(FORGERY_DETECTORS.get_class(FUSION), "default_members", ())
    return ForgeryChecker(FUSION).threshold if sorted(detectors) == sorted(members) else DEFAULT_THRESHOLD


def evaluate_forgery(items: Sequence[LabelledItem], detectors: Sequence[str] = ("sbi", "mesonet"),
                     perturbations: Sequence[str] = (), cache: ScoreCache | None = None, every_seconds: float = 0.2,
                     max_frames: int | None = 100, crop_fallback: bool = False, face_detector: str = DEFAULT_CHECK_DETECTOR,
                     device: str = "cpu", progress: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """(result dict for the report, ROC curves {level: {detector: (far, tar)}})."""
    from facetrust.analyzer import FaceAnalyzer
    from facetrust.forensics.checker import ForgeryChecker

    if not detectors:
        raise ConfigError("at least one forgery detector is needed")
    cache = cache or ScoreCache(None)
    analyzer = FaceAnalyzer(detector=face_detector, device=device)
    checkers = [ForgeryChecker(name, analyzer=analyzer, device=device, crop_fallback=crop_fallback) for name in detectors]
    thresholds = {c.detector_name: c.threshold for c in checkers}
    thresholds[FUSION] = fusion_threshold(detectors)
    clean = score_items(items, checkers, cache, None, every_seconds, max_frames, progress)
    table = _frame_table(items, clean, list(detectors))
    metrics, per_method, curves = {}, {}, {"frame": {}}
    for name, entry in table.items():
        scores, labels, methods, _, unavailable = entry
        threshold = thresholds[name]
        frame = detection_metrics(scores, labels, threshold)
        video = _video_level(items, entry, threshold)
        metrics[name] = {"frame": {**frame, "unavailable": unavailable}, "video": video}
        per_method[name] = _per_method(scores, labels, methods, threshold)
        if "auc" in frame:
            far, tar, _ = roc(np.asarray(scores), np.asarray(labels, bool))
            curves["frame"][name] = (far, tar)
    drift_scores = [(r.drift, item.fake) for item, r in zip(items, clean) if item.is_video and r and r.drift is not None]
    if drift_scores:  # the drift score's own a-priori operating point
        metrics["identity-drift"] = {"video": detection_metrics([d for d, _ in drift_scores],
                                                                [f for _, f in drift_scores], 0.5)}
    robustness: dict[str, Any] = {}
    if perturbations:
        images_only = [None if item.is_video else r for item, r in zip(items, clean)]
        for name, entry in _frame_table(items, images_only, list(detectors)).items():
            robustness.setdefault(name, {})["clean"] = detection_metrics(entry[0], entry[1], thresholds[name]).get("auc")
    for spec in perturbations:
        perturbed = score_items(items, checkers, cache, spec, every_seconds, max_frames, progress)
        for name, entry in _frame_table(items, perturbed, list(detectors)).items():
            result = detection_metrics(entry[0], entry[1], thresholds[name])
            robustness.setdefault(name, {})[spec] = result.get("auc")
    errors = [f"{item.path.name}: {r.error}" for item, r in zip(items, clean) if r is not None and r.error]
    result = {
        "protocol": "forgery detection",
        "configuration": {name: {"detector": name, "version": detector_version(name), "threshold": thresholds[name],
                                 "faces": face_detector, "crop_fallback": crop_fallback}
                          for name in detectors},
        "dataset": {"items": len(items), "videos": sum(i.is_video for i in items),
                    "images": sum(not i.is_video for i in items), "fake": sum(i.fake for i in items),
                    "real": sum(not i.fake for i in items), "every_seconds": every_seconds,
                    "max_frames": max_frames},
        "metrics": metrics,
        "per_method_frame_level": per_method,
        "robustness_frame_auc_images": robustness,
        "notes": [*errors, "positive class = fake; scores are P(fake); operating point = each model's threshold ("
                  + ", ".join(f"{name} {thresholds[name]}" for name in metrics if name in thresholds)
                  + "; not fitted to this data)",
                  "robustness: image rows only, faces re-detected on each perturbed image"],
    }
    return result, curves


#: The first rows of a forgery report and of ``facetrust eval forgery``.
FORGERY_HEADLINE = headline_rows([
    ("frame AUC", "frame/auc"), ("frame AP", "frame/ap"), ("frame EER", "frame/eer"),
    ("frame accuracy @ 0.5", "frame/accuracy"), ("frame TPR @ 0.5", "frame/tpr"), ("frame FPR @ 0.5", "frame/fpr"),
    ("frames real", "frame/n_real"), ("frames fake", "frame/n_fake"), ("frames unavailable", "frame/unavailable"),
    ("video AUC", "video/auc"), ("video AP", "video/ap"), ("video accuracy @ 0.5", "video/accuracy"),
    ("videos real", "video/n_real"), ("videos fake", "video/n_fake"),
])


def write_forgery_report(result: dict[str, Any], curves: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    from facetrust.evaluation import plots
    from facetrust.evaluation.report import write_report

    out_dir = Path(out_dir)
    figures = {}
    if curves["frame"]:
        figures["ROC (frame level)"] = plots.plot_roc(
            curves["frame"], out_dir / "roc_frame.png", title="Forgery detection — frame-level ROC",
            axis_labels=("real frames flagged as fake (FPR)", "fake frames detected (TPR)"))
    json_path, md_path, html_path = write_report(result, out_dir, figures, headline=FORGERY_HEADLINE)
    return {"json": json_path, "markdown": md_path, "html": html_path}
