"""``facetrust eval``: standard recognition protocols with tables, JSON and reports."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from facetrust.cli.common import PresetOpt, print_json, user_errors

app = typer.Typer(help="Evaluate detector + recognizer configurations on standard protocols.", no_args_is_help=True)

DetectorOpt = typer.Option(None, "--detector", "-d", help="Detector of the main configuration (default: the preset's).")
RecognizerOpt = typer.Option(None, "--recognizer", "-r", help="Recognizer of the main configuration (default: the preset's).")
CompareOpt = typer.Option(None, "--compare", help="Extra configuration DETECTOR:RECOGNIZER (repeatable); all are overlaid on the plots.")
FusionOpt = typer.Option(False, "--fusion", help="Also score the z-normalised score fusion of the first two configurations.")
WorkersOpt = typer.Option(0, "--workers", "-w", help="Worker processes (0 = one per core).")
ReportOpt = typer.Option(None, "--report", help="Folder for report.json / report.md / report.html and PNG plots.")
CacheOpt = typer.Option(None, "--cache", help="Embedding cache file (default ~/.cache/facetrust/embeddings.sqlite).")
JsonOpt = typer.Option(False, "--json", help="Print the full result as JSON on stdout.")


def _models(detector: str | None, recognizer: str | None, compare: list[str] | None, fallback_box: Any,
            preset: str | None = None) -> list[Any]:
    """The main configuration (``detector`` / ``recognizer``, else the preset's) and the --compare ones."""
    from facetrust.detection import DETECTORS
    from facetrust.errors import ConfigError
    from facetrust.evaluation.embedder import EvalModel
    from facetrust.presets import resolve
    from facetrust.recognition import RECOGNIZERS

    specs = [resolve(preset, detector, recognizer)]
    for item in compare or []:
        det, sep, rec = item.partition(":")
        if not sep or not det or not rec:
            raise ConfigError(f"--compare {item!r} must look like DETECTOR:RECOGNIZER, e.g. yunet:mobilefacenet")
        specs.append((det, rec))
    for det, rec in specs:
        DETECTORS.get_class(det)
        RECOGNIZERS.get_class(rec)
    return [EvalModel(det, rec, fallback_box=fallback_box) for det, rec in specs]


def _workers(workers: int) -> int:
    from facetrust.parallel import default_workers

    return workers if workers > 0 else default_workers()


def _finish(result: dict[str, Any], report: Optional[Path], as_json: bool, title: str, rows: list[Any],
            write: Any, legend: list[str] = ()) -> None:
    from facetrust.cli.report import print_metrics

    if report is not None:
        paths = write(report)
        result["report"] = {name: str(path) for name, path in paths.items()}
    if as_json:
        print_json(result)
    else:
        print_metrics(title, result["metrics"], rows, legend)
        if report is not None:
            typer.echo(f"report: {result['report']['html']}", err=True)


def _finish_verification(result: dict[str, Any], run: Any, report: Optional[Path], as_json: bool, title: str) -> None:
    from facetrust.evaluation.reporting import (fold_count, verification_headline, verification_legend,
                                                write_verification_report)

    metrics = result["metrics"]
    _finish(result, report, as_json, title, verification_headline(fold_count(metrics)),
            lambda folder: write_verification_report(result, run, folder, title), verification_legend(metrics))


@app.command()
def lfw(
    root: Path = typer.Option(..., "--root", help="LFW image folder (one folder per person)."),
    pairs: Path = typer.Option(..., "--pairs", help="The View-2 pairs.txt."),
    preset: Optional[str] = PresetOpt, detector: Optional[str] = DetectorOpt,
    recognizer: Optional[str] = RecognizerOpt, compare: Optional[list[str]] = CompareOpt,
    fusion: bool = FusionOpt, workers: int = WorkersOpt, report: Optional[Path] = ReportOpt,
    cache: Optional[Path] = CacheOpt, as_json: bool = JsonOpt,
    no_fallback: bool = typer.Option(False, "--no-fallback", help="Do not fall back to a centre crop where no face is detected."),
    folds: Optional[int] = typer.Option(None, "--folds", help="Quick run: only the first N folds of the pair file (at least 2)."),
    max_pairs: Optional[int] = typer.Option(None, "--max-pairs", help="Quick run: at most N pairs, the first N/2 per fold of each kind (same, different) in every fold used."),
) -> None:
    """LFW View 2: k-fold accuracy (k from the pair file, or --folds) with thresholds from the other
    folds, plus AUC, EER, TAR@FAR."""
    from facetrust.evaluation.cache import EmbeddingCache
    from facetrust.evaluation.lfw import LFW_FALLBACK_BOX, fold_count, read_lfw_pairs, subset_pairs
    from facetrust.evaluation.provenance import describe_run
    from facetrust.evaluation.verification import run_verification

    with user_errors():
        every_pair = read_lfw_pairs(pairs, root)
        pair_list = subset_pairs(every_pair, folds=folds, max_pairs=max_pairs)
        models = _models(detector, recognizer, compare, None if no_fallback else LFW_FALLBACK_BOX, preset)
        with EmbeddingCache(cache) as store:
            run = run_verification(pair_list, models, store, workers=_workers(workers), fusion=fusion)
        used = fold_count(pair_list)
        dataset = {"pairs_file": str(pairs), "root": str(root), "folds": used, "folds_in_file": fold_count(every_pair),
                   "pairs_in_file": len(every_pair), "max_pairs": max_pairs}
        result = describe_run("lfw-view2", run, models, dataset)
        if len(pair_list) < len(every_pair):
            result["notes"].insert(0, f"quick run: {len(pair_list)} of the file's {len(every_pair)} pairs "
                                      f"({used} of {fold_count(every_pair)} folds); not comparable to full View-2 results")
        _finish_verification(result, run, report, as_json, f"LFW View 2 ({used}-fold)")


@app.command("pairs")
def pairs_(
    csv_file: Path = typer.Option(..., "--csv", help="CSV with columns path_a,path_b,same."),
    root: Optional[Path] = typer.Option(None, "--root", help="Folder relative paths resolve against (default: the CSV's folder)."),
    skip_missing: bool = typer.Option(False, "--skip-missing", help="Skip pairs whose images are missing (counted in the report)."),
    preset: Optional[str] = PresetOpt, detector: Optional[str] = DetectorOpt,
    recognizer: Optional[str] = RecognizerOpt, compare: Optional[list[str]] = CompareOpt,
    fusion: bool = FusionOpt, workers: int = WorkersOpt, report: Optional[Path] = ReportOpt,
    cache: Optional[Path] = CacheOpt, as_json: bool = JsonOpt,
    folds: int = typer.Option(10, "--folds", min=2, help="Cross-validation folds (pairs assigned round-robin)."),
) -> None:
    """Any labelled pair list: k-fold accuracy (round-robin folds), AUC, EER, TAR@FAR."""
    from facetrust.evaluation.cache import EmbeddingCache
    from facetrust.evaluation.lfw import fold_count
    from facetrust.evaluation.pairs import read_pairs_csv
    from facetrust.evaluation.provenance import describe_run
    from facetrust.evaluation.verification import run_verification

    with user_errors():
        pair_list, skipped = read_pairs_csv(csv_file, root, skip_missing=skip_missing, folds=folds)
        models = _models(detector, recognizer, compare, None, preset)
        with EmbeddingCache(cache) as store:
            run = run_verification(pair_list, models, store, workers=_workers(workers), fusion=fusion)
        used = fold_count(pair_list)
        result = describe_run("pairs", run, models, {"pairs_file": str(csv_file), "folds": used,
                                                     "skipped_missing": len(skipped)})
        result["notes"] += skipped
        _finish_verification(result, run, report, as_json, f"Pairs {csv_file.name} ({used}-fold)")


@app.command()
def identification(
    root: Path = typer.Option(..., "--root", help="Folder with one sub-folder of images per identity."),
    seed: int = typer.Option(0, "--seed", help="Seed of the gallery/probe split."),
    max_people: Optional[int] = typer.Option(None, "--max-people", help="Use a seeded random subset of identities."),
    centre_fallback: bool = typer.Option(False, "--centre-fallback", help="Pre-aligned data (LFW): use the centre crop where no face is detected."),
    preset: Optional[str] = PresetOpt, detector: Optional[str] = DetectorOpt,
    recognizer: Optional[str] = RecognizerOpt, compare: Optional[list[str]] = CompareOpt,
    workers: int = WorkersOpt, report: Optional[Path] = ReportOpt, cache: Optional[Path] = CacheOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Closed-set rank-1/5 and CMC, open-set DIR@FPIR; one gallery image per identity with >= 2 images."""
    from facetrust.evaluation.cache import EmbeddingCache
    from facetrust.evaluation.identification import identification_metrics, run_identification, split_identities
    from facetrust.evaluation.lfw import LFW_FALLBACK_BOX
    from facetrust.evaluation.provenance import describe_models, versions
    from facetrust.evaluation.reporting import (IDENTIFICATION_HEADLINE, IDENTIFICATION_LEGEND,
                                                write_identification_report)

    with user_errors():
        split = split_identities(root, seed=seed, max_people=max_people)
        models = _models(detector, recognizer, compare, LFW_FALLBACK_BOX if centre_fallback else None, preset)
        with EmbeddingCache(cache) as store:
            embedded = run_identification(split, models, store, workers=_workers(workers))
        first = next(iter(embedded.values()))
        result = {
            "protocol": "identification",
            "configuration": describe_models(models),
            "dataset": {"root": str(root), **split.describe(), "images_sha256": first.dataset_sha256()},
            "versions": versions(),
            "metrics": {label: {**identification_metrics(split, e), "images_per_second": e.images_per_second}
                        for label, e in embedded.items()},
            "notes": ["gallery: one seeded random image of each identity with >= 2 images; mated probes: "
                      "its other images; non-mated probes: identities with exactly 1 image (not enrolled)"],
        }
        title = f"Identification {root.name}"
        _finish(result, report, as_json, title, IDENTIFICATION_HEADLINE,
                lambda folder: write_identification_report(result, folder, title), IDENTIFICATION_LEGEND)


@app.command("forgery")
def forgery_(
    labels: Path = typer.Option(..., "--labels", help="CSV with columns file,label (real|fake), optional method."),
    root: Optional[Path] = typer.Option(None, "--root", help="Folder the CSV's paths are relative to (default: its folder)."),
    forgery_model: Optional[list[str]] = typer.Option(None, "--model", "-m", help="Forgery model (repeatable; default: sbi and mesonet, plus their fusion)."),
    method_column: str = typer.Option("method", "--method-column", help="CSV column for the per-method breakdown (default: method, else the top-level folder)."),
    group_pattern: Optional[str] = typer.Option(None, "--group-pattern", help="Regex whose first group, on an image's file name, names its video (video-level metrics)."),
    perturbation: Optional[list[str]] = typer.Option(None, "--perturbation", help="KIND:VALUE (jpeg, blur, noise, downscale; repeatable; default: the standard grid)."),
    no_robustness: bool = typer.Option(False, "--no-robustness", help="Skip the perturbation runs."),
    crops: bool = typer.Option(False, "--crops", help="Images are face crops: the whole image is the face where none is detected."),
    every: float = typer.Option(0.2, "--every", help="Seconds between sampled video frames."),
    max_frames: Optional[int] = typer.Option(100, "--max-frames", help="Sampled frames per video at most."),
    skip_missing: bool = typer.Option(False, "--skip-missing", help="Skip rows whose file is missing (noted in the report)."),
    report: Optional[Path] = ReportOpt, as_json: bool = JsonOpt, device: str = typer.Option("cpu", "--device"),
    cache: Optional[Path] = typer.Option(None, "--cache", help="Score cache for resuming (default ~/.cache/facetrust/forgery_scores.sqlite)."),
) -> None:
    """Deepfake detection: frame/video AUC, AP, EER, accuracy at the operating point, per method, robustness."""
    from facetrust.forensics.cache import ScoreCache, default_score_cache
    from facetrust.forensics.evaluation import (FORGERY_HEADLINE, evaluate_forgery, read_forgery_labels,
                                                write_forgery_report)
    from facetrust.perturb import DEFAULT_PERTURBATIONS

    with user_errors():
        items, skipped = read_forgery_labels(labels, root, group_pattern, skip_missing, method_column)
        perturbations = [] if no_robustness else list(perturbation or DEFAULT_PERTURBATIONS)
        with ScoreCache(cache or default_score_cache()) as store:
            result, curves = evaluate_forgery(items, list(forgery_model or ("sbi", "mesonet")), perturbations, store,
                                              every, max_frames, crops, device=device, progress=True)
        result["notes"] += skipped
        _finish(result, report, as_json, f"Forgery {labels.name}", FORGERY_HEADLINE,
                lambda folder: write_forgery_report(result, curves, folder))


@app.command("forgery-false-alarms")
def forgery_false_alarms(
    utkface: Path = typer.Option(..., "--utkface", help="UTKFace folder (labels.csv + images/): real colour faces with gender and race."),
    forgery_model: Optional[list[str]] = typer.Option(None, "--model", "-m", help="Forgery model (repeatable; default: sbi and mesonet, plus their fusion)."),
    sbi_model: Optional[list[Path]] = typer.Option(None, "--sbi-model", help="Score this trained SBI ONNX file as sbi (a candidate); repeated, the mean P(fake) of the files (an ensemble)."),
    sbi_views: str = typer.Option("one", "--sbi-views", help="Test-time views sbi averages: one, mirror (and the mirror image) or shifted (5 positions x mirror)."),
    per_race_calibration: Optional[int] = typer.Option(None, "--per-race-calibration", help="At most N calibration faces per race."),
    per_race_evaluation: Optional[int] = typer.Option(None, "--per-race-evaluation", help="At most N evaluation faces per race."),
    shipped: bool = typer.Option(False, "--shipped", help="No calibration: the first model at its shipped threshold on the evaluation split, FPR per gender, race and age group."),
    as_json: bool = JsonOpt, device: str = typer.Option("cpu", "--device"),
    cache: Optional[Path] = typer.Option(None, "--cache", help="Score cache for resuming (default ~/.cache/facetrust/forgery_scores.sqlite)."),
) -> None:
    """False alarms on real colour faces: thresholds from the calibration split, FPR per gender and race on the evaluation split."""
    from facetrust.forensics.cache import ScoreCache, default_score_cache
    from facetrust.forensics.false_alarms import (evaluate_false_alarms, false_alarms_at_threshold, group_table,
                                                  markdown_tables, shipped_threshold)

    with user_errors():
        with ScoreCache(cache or default_score_cache()) as store:
            if shipped:
                model = (forgery_model or ["sbi"])[0]
                result = false_alarms_at_threshold(utkface, model, shipped_threshold(model), store,
                                                   [str(p) for p in sbi_model] if sbi_model else None,
                                                   per_race=per_race_evaluation, device=device, progress=True,
                                                   sbi_views=sbi_views)
            else:
                result = evaluate_false_alarms(utkface, list(forgery_model or ("sbi", "mesonet")), store,
                                               [str(p) for p in sbi_model] if sbi_model else None, device=device,
                                               per_race={"calibration": per_race_calibration,
                                                         "evaluation": per_race_evaluation}, progress=True,
                                               sbi_views=sbi_views)
    if as_json:
        print_json(result)
    elif shipped:
        typer.echo(group_table(result))
    else:
        typer.echo(markdown_tables(result) + "\n" + markdown_tables(result, "at_0.5"))


ATTRIBUTE_ROWS = [
    ("images", "images"), ("faces found", "faces_found"), ("age MAE (years)", "age/mae/mean"),
    ("age MAE, adults", "age/mae_adults/mean"), ("age CS@5", "age/cs5/mean"),
    ("age range coverage", "age/range_coverage/mean"), ("age range width (years)", "age/range_width/mean"),
    ("gender accuracy", "gender/accuracy/mean"), ("gender accuracy, adults", "gender/accuracy_adults/mean"),
    ("gender unavailable (grayscale, small)", "gender_unavailable"),
    ("gender accuracy if forced on grey", "gender_forced_grey/accuracy/mean"),
]


@app.command("attributes")
def attributes_(
    labels: Path = typer.Option(..., "--labels", help="CSV with file and age and/or gender (female|male|F|M), optional race."),
    root: Optional[Path] = typer.Option(None, "--root", help="Folder the CSV's paths are relative to (default: its folder)."),
    gender_column: Optional[str] = typer.Option(None, "--gender-column", help="Gender column (default: gender, else gender_afifi)."),
    # Pinned, not the preset's: the attribute numbers in docs/attributes.md were measured on dlib-hog's faces.
    detector: str = typer.Option("dlib-hog", "--detector", "-d", help="Face detector."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Only the first N labelled rows."),
    crops: bool = typer.Option(False, "--crops", help="Images are LFW-style crops: the LFW centre box where no face is detected."),
    age_model: str = typer.Option("age", "--age-model", help="Registered age model to measure (age, age-plain, age-omz)."),
    gender_model: str = typer.Option("gender", "--gender-model", help="Registered gender model to measure (gender, gender-omz)."),
    half: Optional[str] = typer.Option(None, "--half", help="Only the 'calibration' or the 'test' half (fixed by a hash of each file name)."),
    report: Optional[Path] = ReportOpt, as_json: bool = JsonOpt,
    cache: Optional[Path] = typer.Option(None, "--cache", help="Prediction cache (default ~/.cache/facetrust/attribute_predictions.sqlite)."),
) -> None:
    """Age MAE / CS@5 and gender accuracy, per race group and per gender, with bootstrap CIs and plots."""
    from facetrust.attributes.evaluation import evaluate_attributes, write_attribute_report
    from facetrust.evaluation.lfw import LFW_FALLBACK_BOX
    from facetrust.forensics.cache import ScoreCache
    from facetrust.io.sqlite_cache import cache_file

    with user_errors():
        with ScoreCache(cache or cache_file("attribute_predictions.sqlite")) as store:
            result, items, predictions = evaluate_attributes(labels, root, detector, store, limit, gender_column,
                                                             not as_json, LFW_FALLBACK_BOX if crops else None,
                                                             age_model, gender_model, half)
        if report is not None:
            result["report"] = {k: str(v) for k, v in write_attribute_report(result, items, predictions, report).items()}
        if as_json:
            print_json(result)
        else:
            from facetrust.cli.report import print_metrics

            print_metrics(f"Attributes {labels.name}", {"value": result["metrics"]}, ATTRIBUTE_ROWS)
            if report is not None:
                typer.echo(f"report: {result['report']['html']}", err=True)
