"""Running a liveness checker over a labelled set and reporting ISO/IEC 30107-3 metrics.

Labels file: a CSV with columns ``file`` (relative to the CSV's folder or ``root``),
``label`` (``live`` or ``spoof``) and ``attack_type`` (the attack species, e.g.
``print``, ``replay``; ignored for live rows). Extra columns are kept as-is.

One decision per image: the **largest** face (the subject). Presentations without
a decision — no face found, or the checker's ``unavailable`` (grayscale, too small,
tight face crop, cut by the border) — are *non-responses*: counted per class and reported as
APNRR/BPNRR (attack / bona fide presentation non-response rate), and left out of
APCER and BPCER, which ISO/IEC 30107-3 defines on decisions.
"""
from __future__ import annotations

import csv
import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from facetrust.errors import ConfigError, FacetrustError
from facetrust.io.atomic import atomic_file
from facetrust.liveness.metrics import DEFAULT_APCER_TARGETS, det_points, summarize_pad

LIVE_LABELS = {"live": True, "spoof": False}


@dataclass(frozen=True)
class Presentation:
    path: Path
    bona_fide: bool
    attack_type: str  # "bona fide" for live rows


@dataclass
class ScoredPresentation:
    presentation: Presentation
    score: float | None
    status: str  # live / spoof / unavailable / no face / error
    model_scores: dict[str, float]
    reason: str | None = None

    def to_row(self, root: Path) -> dict[str, Any]:
        p = self.presentation
        try:
            name = p.path.relative_to(root).as_posix()
        except ValueError:
            name = str(p.path)
        return {"file": name, "label": "live" if p.bona_fide else "spoof", "attack_type": p.attack_type,
                "status": self.status, "score": "" if self.score is None else f"{self.score:.6f}",
                **{f"score_{k}": f"{v:.6f}" for k, v in self.model_scores.items()}, "reason": self.reason or ""}


def read_labels(csv_path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> list[Presentation]:
    """Presentations of a labels CSV; ConfigError on a missing column, unknown label or missing file."""
    csv_path = Path(csv_path)
    base = Path(root) if root is not None else csv_path.parent
    try:
        with csv_path.open(newline="", encoding="utf-8") as stream:
            rows = list(csv.DictReader(stream))
            columns = set(rows[0]) if rows else set()
    except FileNotFoundError:
        raise ConfigError(f"{csv_path}: no such labels file") from None
    missing = {"file", "label"} - columns
    if not rows or missing:
        raise ConfigError(f"{csv_path}: needs columns file,label[,attack_type] and at least one row"
                          + (f" (missing: {', '.join(sorted(missing))})" if missing and rows else ""))
    presentations = []
    for line, row in enumerate(rows, start=2):
        label = (row.get("label") or "").strip().lower()
        if label not in LIVE_LABELS:
            raise ConfigError(f"{csv_path}:{line}: label must be live or spoof, got {row.get('label')!r}")
        path = base / row["file"]
        if not path.is_file():
            raise ConfigError(f"{csv_path}:{line}: {path} not found")
        bona_fide = LIVE_LABELS[label]
        attack = "bona fide" if bona_fide else (row.get("attack_type") or "").strip() or "unspecified"
        presentations.append(Presentation(path, bona_fide, attack))
    return presentations


def score_presentations(checker: Any, presentations: Sequence[Presentation],
                        progress: Callable[[Iterable[Any], int], Iterable[Any]] | None = None,
                        cache: Any = None) -> list[ScoredPresentation]:
    """The subject (largest face) of each image, scored; errors become non-responses, not crashes.

    With a :class:`~facetrust.liveness.cache.LivenessCache`, results already computed for
    the same image bytes and checker configuration are reused (resume after an interruption).
    """
    from facetrust.liveness.cache import config_key, content_hash

    key = config_key(checker) if cache is not None else ""
    scored = []
    items: Iterable[Presentation] = presentations if progress is None else progress(presentations, len(presentations))
    for presentation in items:
        digest = content_hash(presentation.path) if cache is not None else ""
        cached = cache.get(key, digest) if cache is not None else None
        if cached is None:
            cached = _score_one(checker, presentation.path)
            if cache is not None and cached["status"] != "error":  # an unreadable file is retried next time
                cache.put(key, digest, cached)
        scored.append(ScoredPresentation(presentation, cached["score"], cached["status"], cached["model_scores"],
                                         cached["reason"]))
    return scored


def _score_one(checker: Any, path: Path) -> dict[str, Any]:
    try:
        results = checker.check_rgb(checker.analyzer.load(path))
    except FacetrustError as exc:
        return {"score": None, "status": "error", "model_scores": {}, "reason": str(exc)}
    if not results:
        return {"score": None, "status": "no face", "model_scores": {}, "reason": "no face found"}
    result = results[0].result
    return {"score": result.score, "status": result.status, "model_scores": result.model_scores,
            "reason": result.reason}


def file_digest(paths: Iterable[Path]) -> str:
    """sha256 over the sorted files' bytes: identifies the exact data evaluated."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def evaluate(checker: Any, presentations: Sequence[Presentation],
             apcer_targets: Sequence[float] = DEFAULT_APCER_TARGETS,
             progress: Callable[[Iterable[Any], int], Iterable[Any]] | None = None,
             cache: Any = None) -> tuple[dict[str, Any], list[ScoredPresentation]]:
    """(result dict in the report format, scored presentations); ``cache`` as in :func:`score_presentations`."""
    started = time.perf_counter()
    scored = score_presentations(checker, presentations, progress, cache)
    elapsed = time.perf_counter() - started
    decided = [s for s in scored if s.score is not None]
    bona = [s.presentation.bona_fide for s in scored]
    non_response = {
        "apnrr": _rate([s.score is None for s in scored if not s.presentation.bona_fide]),
        "bpnrr": _rate([s.score is None for s in scored if s.presentation.bona_fide]),
        "attack_non_responses": sum(s.score is None and not s.presentation.bona_fide for s in scored),
        "bona_fide_non_responses": sum(s.score is None and s.presentation.bona_fide for s in scored),
    }
    summary = summarize_pad([s.score for s in decided], [s.presentation.bona_fide for s in decided],
                            [s.presentation.attack_type for s in decided], checker.threshold, apcer_targets)
    metrics = {**summary.to_dict(), **non_response, "presentations_per_second": len(scored) / elapsed}
    result = {
        "protocol": "pad-iso30107-3",
        "configuration": {"liveness_model": checker.name, "detector": checker.detector_name,
                          "threshold": checker.threshold, "subject": "largest face per image"},
        "dataset": {"presentations": len(scored), "bona_fide": int(sum(bona)), "attacks": int(len(bona) - sum(bona)),
                    "attack_species": ", ".join(sorted({s.presentation.attack_type for s in scored
                                                        if not s.presentation.bona_fide})),
                    "files_sha256": file_digest(s.presentation.path for s in scored)},
        "metrics": {checker.name: metrics},
        "notes": summary.notes + [
            "APCER per attack species, APCER max = the worst species; BPCER, ACER = (APCER max + BPCER) / 2; "
            "EER pools all species; classified bona fide when score >= threshold",
            "non-responses (no face, unavailable, unreadable) are excluded from APCER/BPCER and counted in "
            "APNRR/BPNRR",
        ],
    }
    return result, scored


def _rate(flags: list[bool]) -> float | None:
    return float(np.mean(flags)) if flags else None


def write_pad_report(result: dict[str, Any], scored: Sequence[ScoredPresentation], out_dir: str | os.PathLike[str],
                     root: Path) -> dict[str, Path]:
    """report.json/.md/.html (the recognition reports' format), a DET plot and presentations.csv."""
    from facetrust.evaluation.report import write_report

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    decided = [s for s in scored if s.score is not None]
    plots = {}
    labels = [s.presentation.bona_fide for s in decided]
    if any(labels) and not all(labels):
        worst, rate_bpcer, _ = det_points([s.score for s in decided], labels,
                                          [s.presentation.attack_type for s in decided])
        plots["DET"] = plot_det(worst, rate_bpcer, out_dir / "det.png", str(result["configuration"]["liveness_model"]))
    csv_path = _write_csv([s.to_row(root) for s in scored], out_dir / "presentations.csv")
    json_path, md_path, html_path = write_report(result, out_dir, plots)
    return {"json": json_path, "markdown": md_path, "html": html_path, "csv": csv_path,
            **{f"plot_{name}": path for name, path in plots.items()}}


def _write_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with atomic_file(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def plot_det(apcer_max: np.ndarray, bpcer: np.ndarray, path: Path, label: str) -> Path:
    """Step DET curve, APCER (worst species) vs BPCER, linear axes (PAD sets are small), PNG written atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.8), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.step(apcer_max, bpcer, where="post", marker="o", markersize=3, label=label)
    axes.set_xlim(-0.02, 1.02)
    axes.set_ylim(-0.02, 1.02)
    axes.set_xlabel("APCER (worst attack species)")
    axes.set_ylabel("BPCER")
    axes.set_title("DET (presentation attack detection)")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="upper right")
    figure.tight_layout()
    with atomic_file(path) as stream:
        figure.savefig(stream, format="png")
    return path


# ----------------------------------------------------------------------------- bona fide error rates per group

@dataclass(frozen=True)
class GroupedFace:
    """A bona fide image with its demographic labels, e.g. ``{"gender": "female", "race": "asian"}``."""

    path: Path
    groups: dict[str, str]


@dataclass(frozen=True)
class BonaFideScore:
    """The shipped checker's answer on a bona fide image, and what its model says if forced.

    ``forced_score`` is the model's P(live) on the largest face with the availability rules
    (grayscale, too small, tight crop, border) skipped — information for the evaluation,
    never a shipped answer. None when no face was found.
    """

    face: GroupedFace
    status: str  # live / spoof / unavailable / no face / error
    score: float | None
    reason: str | None
    forced_score: float | None


def utkface_split(name: str) -> str:
    """``"fit"`` or ``"eval"``, fixed by the file's base name: its sha256 as an integer, even = fit.

    Anything fitted on bona fide faces uses the fit half; error rates are measured on the eval half.
    """
    return "fit" if int(hashlib.sha256(Path(name).name.encode()).hexdigest(), 16) % 2 == 0 else "eval"


def read_grouped_faces(csv_path: str | os.PathLike[str], group_columns: Sequence[str] = ("gender", "race"),
                       split: str | None = None, root: str | os.PathLike[str] | None = None) -> list[GroupedFace]:
    """Faces of a labels CSV (column ``file`` + ``group_columns``, e.g. UTKFace's labels.csv); rows with an
    empty group label are left out. ``split`` (``"fit"``/``"eval"``) keeps one half (:func:`utkface_split`)."""
    csv_path = Path(csv_path)
    base = Path(root) if root is not None else csv_path.parent
    try:
        with csv_path.open(newline="", encoding="utf-8") as stream:
            rows = list(csv.DictReader(stream))
    except FileNotFoundError:
        raise ConfigError(f"{csv_path}: no such labels file") from None
    missing = {"file", *group_columns} - set(rows[0] if rows else ())
    if not rows or missing:
        raise ConfigError(f"{csv_path}: needs columns file,{','.join(group_columns)} and at least one row")
    faces = [GroupedFace(base / row["file"], {c: row[c].strip() for c in group_columns}) for row in rows
             if all(row[c].strip() for c in group_columns) and (split is None or utkface_split(row["file"]) == split)]
    for face in faces:
        if not face.path.is_file():
            raise ConfigError(f"{csv_path}: {face.path} not found")
    return faces


def score_bona_fide(checker: Any, faces: Sequence[GroupedFace], progress: Any = None) -> list[BonaFideScore]:
    """The shipped checker's result on the largest face of each image, plus the model's forced score."""
    from facetrust.progress import track

    out = []
    for face in track(faces, len(faces), "liveness bona fide", progress, unit="images"):
        try:
            image = checker.analyzer.load(face.path)
            found = checker.check_rgb(image)
        except FacetrustError as exc:
            out.append(BonaFideScore(face, "error", None, str(exc), None))
            continue
        if not found:
            out.append(BonaFideScore(face, "no face", None, "no face found", None))
            continue
        result = found[0].result
        forced = checker.model.predict(image, found[0].face.box).score
        out.append(BonaFideScore(face, result.status, result.score, result.reason, forced))
    return out


def _rate_with_ci(rejected: np.ndarray) -> dict[str, Any]:
    from facetrust.attributes.evaluation import bootstrap_ci

    return {"n": int(len(rejected)), "bpcer": None if len(rejected) == 0 else round(float(rejected.mean()), 4),
            "ci95": bootstrap_ci(rejected.astype(np.float64))}


def _reason_kind(record: BonaFideScore) -> str:
    return record.status if record.status in ("no face", "error") else (record.reason or "").split(":")[0]


def bpcer_by_group(records: Sequence[BonaFideScore], threshold: float,
                   group_columns: Sequence[str] = ("gender", "race")) -> dict[str, Any]:
    """BPCER with 95 % bootstrap intervals, overall and per group, in two views.

    ``in_scope``: the shipped behaviour, over images with a decision (live/spoof);
    ``forced``: the model's forced score against ``threshold`` over every image with a face —
    what the model would say on inputs the checker declines, labelled as such.
    ``scope`` counts, per group, the images and why the others had no decision.
    """
    decided = np.array([r.status in ("live", "spoof") for r in records], dtype=bool)
    shipped = np.array([r.status == "spoof" for r in records], dtype=bool)
    has_face = np.array([r.forced_score is not None for r in records], dtype=bool)
    forced = np.array([r.forced_score is not None and r.forced_score < threshold for r in records], dtype=bool)
    groups: dict[str, dict[str, np.ndarray]] = {"overall": {"all": np.ones(len(records), dtype=bool)}}
    for column in group_columns:
        labels = np.array([r.face.groups[column] for r in records], dtype=object)
        groups[column] = {str(v): labels == v for v in sorted(set(labels))}
    out: dict[str, Any] = {"threshold": threshold, "in_scope": {}, "forced": {}, "scope": {}}
    for column, masks in groups.items():
        out["in_scope"][column] = {g: _rate_with_ci(shipped[m & decided]) for g, m in masks.items()}
        out["forced"][column] = {g: _rate_with_ci(forced[m & has_face]) for g, m in masks.items()}
        out["scope"][column] = {g: {"images": int(m.sum()), "decided": int((m & decided).sum()),
                                    "reasons": _count_reasons([r for r, keep in zip(records, m & ~decided) if keep])}
                                for g, m in masks.items()}
    return out


def _count_reasons(records: Sequence[BonaFideScore]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in records:
        counts[_reason_kind(record)] = counts.get(_reason_kind(record), 0) + 1
    return dict(sorted(counts.items(), key=lambda item: -item[1]))
