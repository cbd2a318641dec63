"""``facetrust eval attributes``: age and gender accuracy per demographic group, with
bootstrap confidence intervals, error-rate ratios between groups, confusion matrices and plots.

Data: a labels CSV with ``file`` and any of ``age``, ``gender`` (female|male, or F|M),
``race`` columns (UTKFace's ``labels.csv``; LFW's ``lfw_demographics/labels.csv`` with
``gender_afifi``). Each image's largest detected face is estimated once; predictions are
cached per image (content sha256 + settings), so a rerun or an interrupted run costs only
what is new. Besides the normal (colour-gated) results, the gender and age models are also
run on the image turned grey ("forced"), which measures what refusing grayscale input avoids.
"""
from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from facetrust.errors import ConfigError, FacetrustError

GENDER_CODES = {"f": "female", "female": "female", "m": "male", "male": "male"}
AGE_BINS = (0, 3, 10, 20, 30, 40, 50, 60, 70, 200)
BOOTSTRAP = 1000
ADULT_AGE = 18


HALVES = ("calibration", "test")


@dataclass(frozen=True)
class LabelledImage:
    path: Path
    age: int | None
    gender: str | None
    race: str | None
    file: str = ""  # as written in the labels CSV

    @property
    def half(self) -> str:
        """A fixed half of any labelled set: "calibration" when the sha256 of the CSV's file name is even."""
        return HALVES[int(hashlib.sha256(self.file.encode()).hexdigest()[:8], 16) % 2]


def read_attribute_labels(labels: Path, root: Path | None = None, gender_column: str | None = None,
                          limit: int | None = None, half: str | None = None) -> list[LabelledImage]:
    """Rows with a file and at least an age or a gender; ``gender_column`` defaults to the first of
    ``gender``, ``gender_afifi``; ``half`` keeps one of :data:`HALVES`. Missing files are a ConfigError
    naming the first one."""
    if half is not None and half not in HALVES:
        raise ConfigError(f"unknown half {half!r} (use {' or '.join(HALVES)})")
    root = root or labels.parent
    try:
        with labels.open(newline="", encoding="utf-8") as stream:
            rows = list(csv.DictReader(stream))
    except OSError as exc:
        raise ConfigError(f"cannot read labels {labels}: {exc}") from None
    if not rows or "file" not in rows[0]:
        raise ConfigError(f"{labels}: needs a header with a 'file' column")
    column = gender_column or next((c for c in ("gender", "gender_afifi") if c in rows[0]), None)
    items = []
    for row in rows:
        age = int(row["age"]) if row.get("age", "").strip() else None
        gender = GENDER_CODES.get((row.get(column) or "").strip().lower()) if column else None
        if age is None and gender is None:
            continue
        race = (row.get("race") or row.get("race_usc_single") or "").strip() or None
        items.append(LabelledImage(root / row["file"], age, gender, race, row["file"]))
    if half is not None:
        items = [item for item in items if item.half == half]
    if limit is not None:
        items = items[:limit]
    missing = next((item.path for item in items if not item.path.is_file()), None)
    if missing is not None:
        raise ConfigError(f"labelled image {missing} does not exist (check --root)")
    return items


# ----------------------------------------------------------------------------- prediction

#: The models of the shared per-image record (with the eyes); any other age or gender model gets
#: a record of its own (:func:`predict_model`).
RECORD_MODELS = {"age": "age", "gender": "gender"}


def _settings(detector: str) -> str:
    from facetrust.attributes.inputs import CHIP_PADDING, MIN_FACE_PX
    from facetrust.attributes.packaged import PACKAGED_SHA256

    models = ",".join(sha[:12] for sha in PACKAGED_SHA256.values())
    return f"v1|{detector}|pad{CHIP_PADDING}|min{MIN_FACE_PX}|{models}"


def _model_settings(name: str, model: Any, detector: str) -> str:
    """Cache settings of one model's own record: its name, zoo files and crop."""
    from facetrust.attributes.inputs import MIN_FACE_PX
    from facetrust.zoo.manifest import get_model

    files = ",".join(f.sha256[:12] for zoo in model.zoo_models for f in get_model(zoo).files)
    scale = getattr(model, "box_scale", None)
    return f"v1|{detector}|min{MIN_FACE_PX}|{name}@{files}" + (f"|scale{scale}" if scale is not None else "")


def _grey(image: np.ndarray, box: tuple[float, float, float, float]) -> Any:
    """The face's inputs on the image turned grey (ITU-R 601 luma in all three channels)."""
    from facetrust.attributes.inputs import FaceInputs

    luma = (image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)).round()
    return FaceInputs(np.ascontiguousarray(np.repeat(luma[..., None], 3, axis=2).astype(np.uint8)), box)


def predict_faces(image: np.ndarray, faces: Sequence[Any], estimator: Any) -> dict[str, Any]:
    """The largest face's age, gender and eyes, its colour spread, and the forced-grey age and gender."""
    from facetrust.attributes.inputs import FaceInputs

    if not faces:
        return {"face": False}
    box = faces[0].box
    face = FaceInputs(image, box)
    out: dict[str, Any] = {"face": True, "box_width": round(box[2] - box[0], 1),
                           "colour_spread": round(face.colour_spread, 3) if not face.too_small else None}
    out.update(predict_model(image, faces, estimator.model("age"))
               | predict_model(image, faces, estimator.model("gender")))
    eyes = estimator.model("eyes").estimate([face])[0]
    if eyes["status"] == "ok":
        out["ears"] = [eyes[eye]["ear"] for eye in ("left", "right")]
    return out


def predict_model(image: np.ndarray, faces: Sequence[Any], model: Any) -> dict[str, Any]:
    """One age model's (``age``, ``grey_age``) or gender model's (``gender``, ``p_male``, ``grey_p_male``)
    raw outputs on the largest face: the colour-gated ones only where the library would answer."""
    from facetrust.attributes.age import AgeModel
    from facetrust.attributes.inputs import FaceInputs

    if not faces:
        return {"face": False}
    face = FaceInputs(image, faces[0].box)
    if face.too_small is not None:
        return {"face": True}
    usable, grey = not face.grayscale, _grey(image, faces[0].box)
    if isinstance(model, AgeModel):
        out = {"grey_age": round(float(model.ages([grey])[0]), 2)}
        if usable:
            out["age"] = {"value": round(float(model.ages([face])[0]), 2)}
    else:
        out = {"grey_p_male": round(float(model.probabilities([grey])[0][1]), 4)}
        if usable:
            p_male = float(model.probabilities([face])[0][1])
            out |= {"gender": "male" if p_male >= 0.5 else "female", "p_male": round(p_male, 4)}
    return {"face": True} | out


def predict_all(items: Sequence[LabelledImage], detector: str, cache: Any, progress: bool = True,
                fallback_box: tuple[float, float, float, float] | None = None,
                models: dict[str, str] = RECORD_MODELS) -> list[dict[str, Any]]:
    """Predictions for every item, resuming from ``cache`` (a :class:`facetrust.forensics.cache.ScoreCache`).
    ``models`` maps ``age`` and ``gender`` to the registered models to evaluate; the shared record
    (dlib age and gender, eyes, colour spread) is always made, another model's fields replace its own."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from facetrust.analyzer import FaceAnalyzer
    from facetrust.attributes.api import AttributeEstimator
    from facetrust.io.sqlite_cache import content_hash

    analyzer = FaceAnalyzer(detector=detector, fallback_box=fallback_box)
    others = {kind: name for kind, name in models.items() if name != RECORD_MODELS[kind]}
    estimator = AttributeEstimator(("age", "gender", "eyes", *others.values()))
    fallback = f"|fb{fallback_box}" if fallback_box else ""
    settings = {"": _settings(detector) + fallback} | {
        name: _model_settings(name, estimator.model(name), detector) + fallback for name in others.values()}
    out = []
    columns = (TextColumn("attributes"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.speed} img/s"),
               TimeRemainingColumn())
    with Progress(*columns, disable=not progress, transient=True) as bar:
        task = bar.add_task("attributes", total=len(items))
        for item in items:
            digest = content_hash(item.path)
            records = {name: cache.get(f"{digest}|{value}") for name, value in settings.items()}
            if any(record is None for record in records.values()):
                try:
                    image = analyzer.load(item.path)
                    faces = analyzer.detect_rgb(image)
                    fresh = {name: predict_model(image, faces, estimator.model(name)) if name
                             else predict_faces(image, faces, estimator) for name, r in records.items() if r is None}
                except FacetrustError as exc:  # an undecodable image is counted, not fatal
                    fresh = {name: {"face": False, "error": str(exc)} for name, r in records.items() if r is None}
                for name, record in fresh.items():
                    cache.put(f"{digest}|{settings[name]}", record)
                records |= fresh
            prediction = dict(records[""])
            for kind, name in others.items():
                fields = ("age", "grey_age") if kind == "age" else ("gender", "p_male", "grey_p_male")
                prediction = {k: v for k, v in prediction.items() if k not in fields} | {
                    k: v for k, v in records[name].items() if k in fields}
            out.append(prediction)
            bar.advance(task)
    return out


# ----------------------------------------------------------------------------- metrics

def bootstrap_ci(values: np.ndarray, seed: int = 0) -> list[float] | None:
    """95% percentile-bootstrap interval of the mean of ``values`` (None when empty)."""
    if len(values) == 0:
        return None
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(BOOTSTRAP, len(values)))].mean(axis=1)
    return [round(float(v), 4) for v in np.percentile(means, [2.5, 97.5])]


def _summary(values: np.ndarray, digits: int = 4) -> dict[str, Any]:
    return {"n": int(len(values)), "mean": None if len(values) == 0 else round(float(values.mean()), digits),
            "ci95": bootstrap_ci(values)}


def _ratio(per_group: dict[str, dict[str, Any]], min_n: int) -> dict[str, Any] | None:
    """Largest over smallest error between groups with at least ``min_n`` samples."""
    scored = {g: s["mean"] for g, s in per_group.items() if s["n"] >= min_n and s["mean"] is not None}
    if len(scored) < 2:
        return None
    worst, best = max(scored, key=scored.get), min(scored, key=scored.get)
    ratio = None if scored[best] == 0 else round(scored[worst] / scored[best], 3)
    return {"worst": worst, "best": best, "ratio": ratio, "min_n": min_n}


def _grouped(groups: dict[str, np.ndarray], values: np.ndarray) -> dict[str, dict[str, Any]]:
    return {name: _summary(values[mask]) for name, mask in groups.items()}


def _bin(ages: np.ndarray) -> np.ndarray:
    return np.digitize(ages, AGE_BINS[1:-1])


def _bin_names() -> list[str]:
    return [f"{a}-{b - 1}" if b < 200 else f"{a}+" for a, b in zip(AGE_BINS[:-1], AGE_BINS[1:])]


def age_metrics(true: np.ndarray, pred: np.ndarray, low: np.ndarray, high: np.ndarray,
                groups: dict[str, dict[str, np.ndarray]]) -> dict[str, Any]:
    error = np.abs(pred - true)
    covered = ((true >= low) & (true <= high)).astype(float)
    out: dict[str, Any] = {"mae": _summary(error, 3), "cs5": _summary((error <= 5).astype(float)),
                           "range_coverage": _summary(covered), "range_width": _summary(high - low, 3),
                           "mean_signed_error": round(float((pred - true).mean()), 3) if len(true) else None}
    for kind, masks in groups.items():
        per = _grouped(masks, error)
        out[f"mae_by_{kind}"] = per
        out[f"cs5_by_{kind}"] = _grouped(masks, (error <= 5).astype(float))
        out[f"mae_ratio_by_{kind}"] = _ratio(per, 30)
        out[f"range_coverage_by_{kind}"] = _grouped(masks, covered)
    names = _bin_names()
    matrix = np.zeros((len(names), len(names)), dtype=int)
    np.add.at(matrix, (_bin(true), _bin(pred)), 1)
    out["confusion_by_age_bin"] = {"bins": names, "rows_true_columns_predicted": matrix.tolist()}
    return out


def gender_metrics(true: np.ndarray, pred: np.ndarray, groups: dict[str, dict[str, np.ndarray]]) -> dict[str, Any]:
    wrong = (pred != true).astype(float)
    out: dict[str, Any] = {"accuracy": _summary(1.0 - wrong), "error_rate": _summary(wrong)}
    for kind, masks in groups.items():
        per = _grouped(masks, wrong)
        out[f"error_rate_by_{kind}"] = per
        out[f"error_ratio_by_{kind}"] = _ratio(per, 30)
    out["confusion"] = {f"true_{t}": {f"predicted_{p}": int(((true == t) & (pred == p)).sum())
                                      for p in ("female", "male")} for t in ("female", "male")}
    return out


def _masks(values: Sequence[str | None], where: np.ndarray) -> dict[str, np.ndarray]:
    labels = np.array([v or "unknown" for v in values])[where]
    return {name: labels == name for name in sorted(set(labels))}


def age_band(age: int | None) -> str | None:
    return None if age is None else "adult" if age >= ADULT_AGE else "child"


def summarize(items: Sequence[LabelledImage], predictions: Sequence[dict[str, Any]],
              age_model: str = "age") -> dict[str, Any]:
    """All metrics for one data set (see the module docstring); age ranges from ``age_model``'s calibration."""
    from facetrust.attributes.age_range import load_age_range
    from facetrust.attributes.eyes import EAR_CLOSED, EAR_OPEN

    n = len(items)
    face = np.array([p.get("face", False) for p in predictions])
    result: dict[str, Any] = {"images": n, "faces_found": int(face.sum()), "no_face": int(n - face.sum()),
                              "no_face_by_race": {k: int((~face[m]).sum()) for k, m in
                                                  _masks([i.race for i in items], np.ones(n, bool)).items()}}
    # Age: every image with an age label and an age prediction.
    has_age = np.array([i.age is not None and "age" in p for i, p in zip(items, predictions)])
    if has_age.any():
        true = np.array([i.age for i in items], dtype=object)[has_age].astype(float)
        pick = [p["age"] for p, keep in zip(predictions, has_age) if keep]
        groups = {"race": _masks([i.race for i in items], has_age), "gender": _masks([i.gender for i in items], has_age),
                  "age_band": _masks([age_band(i.age) for i in items], has_age)}
        estimates = np.array([a["value"] for a in pick])
        result["age"] = age_metrics(true, estimates, *load_age_range(age_model).bounds(estimates), groups)
        grey = np.array([p.get("grey_age", np.nan) for p, keep in zip(predictions, has_age) if keep])
        ok = ~np.isnan(grey)
        result["age"]["forced_grey_mae_same_faces"] = _summary(np.abs(grey[ok] - true[ok]), 3)
        adult = true >= ADULT_AGE
        result["age"]["mae_adults"] = _summary(np.abs(np.array([a["value"] for a in pick]) - true)[adult], 3)
    # Gender: every image with a gender label and a (colour-gated) gender prediction.
    labelled = np.array([i.gender is not None for i in items]) & face
    has_gender = np.array([i.gender is not None and "gender" in p for i, p in zip(items, predictions)])
    result["gender_unavailable"] = int((labelled & ~has_gender).sum())
    if has_gender.any():
        true = np.array([i.gender for i in items], dtype=object)[has_gender]
        pred = np.array([p["gender"] for p, keep in zip(predictions, has_gender) if keep], dtype=object)
        groups = {"race": _masks([i.race for i in items], has_gender),
                  "gender": _masks([i.gender for i in items], has_gender)}
        result["gender"] = gender_metrics(true, pred, groups)
        ages = np.array([i.age if i.age is not None else -1 for i in items])[has_gender]
        if (ages >= 0).any():
            adults = ages >= ADULT_AGE
            result["gender"]["accuracy_adults"] = _summary((pred == true)[adults].astype(float))
            result["gender"]["error_rate_adults_by_race"] = _grouped(
                {k: m & adults for k, m in groups["race"].items()}, (pred != true).astype(float))
            result["gender"]["error_ratio_adults_by_race"] = _ratio(result["gender"]["error_rate_adults_by_race"], 30)
    forced = np.array([i.gender is not None and "grey_p_male" in p for i, p in zip(items, predictions)])
    if forced.any():
        true = np.array([i.gender for i in items], dtype=object)[forced]
        grey = np.where(np.array([p["grey_p_male"] for p, keep in zip(predictions, forced) if keep]) >= 0.5,
                        "male", "female")
        result["gender_forced_grey"] = {"accuracy": _summary((grey == true).astype(float)),
                                        "error_rate_by_gender": _grouped(_masks([i.gender for i in items], forced),
                                                                         (grey != true).astype(float))}
    # Colour spread (the grayscale gate) and EARs (the eye threshold) as measured here.
    spread = np.array([p["colour_spread"] for p in predictions if p.get("colour_spread") is not None])
    if len(spread):
        result["colour_spread"] = {"min": round(float(spread.min()), 3),
                                   "p01": round(float(np.percentile(spread, 1)), 3),
                                   "median": round(float(np.median(spread)), 3)}
    ears = [(i, p["ears"]) for i, p in zip(items, predictions) if p.get("ears") and None not in p["ears"]]
    if ears:
        values = np.array([e for _, e in ears], dtype=float)
        closed = (values < EAR_CLOSED).any(axis=1).astype(float)
        result["eyes"] = {"ear_percentiles": {str(q): round(float(np.percentile(values, q)), 4)
                                              for q in (1, 5, 10, 25, 50)},
                          "closed_rate": _summary(closed),
                          "unknown_rate": _summary(((values >= EAR_CLOSED) & (values < EAR_OPEN)).any(axis=1)
                                                   .astype(float)),
                          "closed_rate_by_race": _grouped(_masks([i.race for i, _ in ears], np.ones(len(ears), bool)),
                                                          closed)}
    return result


# ----------------------------------------------------------------------------- report

def _plots(items: Sequence[LabelledImage], predictions: Sequence[dict[str, Any]], result: dict[str, Any],
           folder: Path) -> dict[str, Path]:
    from facetrust.evaluation.plots import _figure, _save

    plots: dict[str, Path] = {}
    pairs = [(i.age, p["age"]["value"]) for i, p in zip(items, predictions) if i.age is not None and "age" in p]
    if pairs:
        true, pred = np.array(pairs, dtype=float).T
        figure = _figure((6.4, 6.0), 100)
        axes = figure.add_subplot()
        axes.scatter(true, pred, s=3, alpha=0.3)
        axes.plot([0, 110], [0, 110], color="k", lw=1, label="predicted = true")
        axes.set(xlabel="true age (years)", ylabel="predicted age (expected value)",
                 title=f"Age: MAE {result['age']['mae']['mean']} years, n = {len(true)}")
        axes.legend(loc="upper left")
        plots["age: predicted vs true"] = _save(figure, folder / "age_scatter.png")
    bars = []
    if "age" in result:
        bars.append(("age MAE by race (years)", result["age"]["mae_by_race"]))
        bars.append(("age MAE by gender (years)", result["age"]["mae_by_gender"]))
    if "gender" in result:
        bars.append(("gender error rate by race", result["gender"]["error_rate_by_race"]))
        bars.append(("gender error rate by gender", result["gender"]["error_rate_by_gender"]))
    if bars:
        figure = _figure((6.4, 2.6 * len(bars)), 100)
        for index, (title, per) in enumerate(bars, 1):
            axes = figure.add_subplot(len(bars), 1, index)
            names = [g for g, s in per.items() if s["n"] > 0]
            means = np.array([per[g]["mean"] for g in names])
            low = means - np.array([per[g]["ci95"][0] for g in names])
            high = np.array([per[g]["ci95"][1] for g in names]) - means
            axes.bar(names, means, yerr=[low, high], capsize=4)
            axes.set_title(title + " with bootstrap 95% CI")
            axes.set_xticks(range(len(names)), [f"{g}\n(n={per[g]['n']})" for g in names], fontsize="small")
        plots["per-group errors"] = _save(figure, folder / "per_group.png")
    return plots


def write_attribute_report(result: dict[str, Any], items: Sequence[LabelledImage],
                           predictions: Sequence[dict[str, Any]], folder: Path) -> dict[str, Path]:
    from facetrust.evaluation.report import write_report

    folder = Path(folder)
    plots = _plots(items, predictions, result["metrics"], folder)
    paths = write_report(result, folder, plots)
    return dict(zip(("json", "md", "html"), paths)) | {name: path for name, path in plots.items()}


def evaluate_attributes(labels: Path, root: Path | None, detector: str, cache: Any, limit: int | None = None,
                        gender_column: str | None = None, progress: bool = True,
                        fallback_box: tuple[float, float, float, float] | None = None,
                        age_model: str = "age", gender_model: str = "gender", half: str | None = None,
                        ) -> tuple[dict[str, Any], list[LabelledImage], list[dict[str, Any]]]:
    """``age_model`` / ``gender_model``: the registered models measured; ``half``: one of :data:`HALVES` only."""
    from facetrust.attributes import ATTRIBUTE_MODELS
    from facetrust.attributes.age import AgeModel
    from facetrust.attributes.gender import GenderModel

    for kind, name, base in (("an age", age_model, AgeModel), ("a gender", gender_model, GenderModel)):
        if not issubclass(ATTRIBUTE_MODELS.get_class(name), base):
            raise ConfigError(f"{name!r} is not {kind} model")
    items = read_attribute_labels(labels, root, gender_column, limit, half)
    if not items:
        raise ConfigError(f"{labels}: no row with an age or gender label")
    predictions = predict_all(items, detector, cache, progress, fallback_box, {"age": age_model, "gender": gender_model})
    result = {"protocol": f"Face attributes on {labels.parent.name}/{labels.name}" + (f", {half} half" if half else ""),
              "configuration": {"detector": detector, "labels": str(labels), "images": len(items), "half": half,
                                "age_model": age_model, "gender_model": gender_model,
                                "fallback_box": fallback_box, "settings": _settings(detector)},
              "metrics": summarize(items, predictions, age_model),
              "notes": ["95% CIs: percentile bootstrap over images (1000 resamples, seed 0).",
                        "Ratios: largest / smallest error among groups with at least 30 images.",
                        "Age range: the packaged conformal calibration, fitted on UTKFace's calibration half; "
                        "its coverage is a held-out measure only on the test half.",
                        "forced_grey: the colour models run on the image turned grey, which the library "
                        "refuses (status unavailable); measured to show what refusing avoids."]}
    return result, items, predictions

