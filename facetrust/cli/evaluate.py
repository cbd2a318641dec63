"""``facetrust eval``: standard recognition protocols with tables, JSON and reports."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from facetrust.cli.common import print_json, user_errors
from facetrust.defaults import DEFAULT_DETECTOR, DEFAULT_RECOGNIZER

app = typer.Typer(help="Evaluate detector + recognizer configurations on standard protocols.", no_args_is_help=True)

DetectorOpt = typer.Option(DEFAULT_DETECTOR, "--detector", "-d", help="Detector of the main configuration.")
RecognizerOpt = typer.Option(DEFAULT_RECOGNIZER, "--recognizer", "-r", help="Recognizer of the main configuration.")
CompareOpt = typer.Option(None, "--compare", help="Extra configuration DETECTOR:RECOGNIZER (repeatable); all are overlaid on the plots.")
FusionOpt = typer.Option(False, "--fusion", help="Also score the z-normalised score fusion of the first two configurations.")
WorkersOpt = typer.Option(0, "--workers", "-w", help="Worker processes (0 = one per core).")
ReportOpt = typer.Option(None, "--report", help="Folder for report.json / report.md / report.html and PNG plots.")
CacheOpt = typer.Option(None, "--cache", help="Embedding cache file (default ~/.cache/facetrust/embeddings.sqlite).")
JsonOpt = typer.Option(False, "--json", help="Print the full result as JSON on stdout.")


def _models(detector: str, recognizer: str, compare: list[str] | None, fallback_box: Any) -> list[Any]:
    from facetrust.detection import DETECTORS
    from facetrust.errors import ConfigError
    from facetrust.evaluation.embedder import EvalModel
    from facetrust.recognition import RECOGNIZERS

    specs = [(detector, recognizer)]
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


VERIFICATION_ROWS = [
    ("accuracy (10-fold mean)", "accuracy"), ("accuracy std", "accuracy_std"), ("AUC", "auc"), ("EER", "eer"),
    ("TAR @ FAR=1e-2", "tar_at_far/0.01"), ("TAR @ FAR=1e-3", "tar_at_far/0.001"),
    ("pairs scored", "pairs_scored"), ("failure to detect (images)", "failure_to_detect"),
    ("accuracy without fallback", "without_fallback/accuracy"), ("pairs without fallback", "without_fallback/pairs_scored"),
    ("images/s (embedded this run)", "images_per_second"),
]
IDENTIFICATION_ROWS = [
    ("rank-1", "rank1"), ("rank-5", "rank5"), ("DIR @ FPIR=1e-2", "dir_at_fpir/0.01"),
    ("DIR @ FPIR=1e-1", "dir_at_fpir/0.1"), ("gallery identities", "gallery_identities"),
    ("mated probes", "mated_probes"), ("non-mated probes", "nonmated_probes"),
    ("gallery not enrolled (no face)", "gallery_not_enrolled"), ("mated not acquired", "mated_not_acquired"),
]


def _finish(result: dict[str, Any], report: Optional[Path], as_json: bool, title: str, rows: list[tuple[str, str]],
            write: Any) -> None:
    from facetrust.cli.report import print_metrics

    if report is not None:
        paths = write(report)
        result["report"] = {name: str(path) for name, path in paths.items()}
    if as_json:
        print_json(result)
    else:
        print_metrics(title, result["metrics"], rows)
        if report is not None:
            typer.echo(f"report: {result['report']['html']}", err=True)


def _finish_verification(result: dict[str, Any], run: Any, report: Optional[Path], as_json: bool, title: str) -> None:
    from facetrust.evaluation.reporting import write_verification_report

    _finish(result, report, as_json, title, VERIFICATION_ROWS,
            lambda folder: write_verification_report(result, run, folder, title))


@app.command()
def lfw(
    root: Path = typer.Option(..., "--root", help="LFW image folder (one folder per person)."),
    pairs: Path = typer.Option(..., "--pairs", help="The View-2 pairs.txt."),
    detector: str = DetectorOpt, recognizer: str = RecognizerOpt, compare: Optional[list[str]] = CompareOpt,
    fusion: bool = FusionOpt, workers: int = WorkersOpt, report: Optional[Path] = ReportOpt,
    cache: Optional[Path] = CacheOpt, as_json: bool = JsonOpt,
    no_fallback: bool = typer.Option(False, "--no-fallback", help="Do not fall back to a centre crop where no face is detected."),
) -> None:
    """LFW View 2: 10 folds, thresholds from the 9 training folds, plus AUC, EER, TAR@FAR."""
    from facetrust.evaluation.cache import EmbeddingCache
    from facetrust.evaluation.lfw import LFW_FALLBACK_BOX, read_lfw_pairs
    from facetrust.evaluation.provenance import describe_run
    from facetrust.evaluation.verification import run_verification

    with user_errors():
        pair_list = read_lfw_pairs(pairs, root)
        models = _models(detector, recognizer, compare, None if no_fallback else LFW_FALLBACK_BOX)
        with EmbeddingCache(cache) as store:
            run = run_verification(pair_list, models, store, workers=_workers(workers), fusion=fusion)
        result = describe_run("lfw-view2", run, models, {"pairs_file": str(pairs), "root": str(root)})
        _finish_verification(result, run, report, as_json, "LFW View 2 (10-fold)")


@app.command("pairs")
def pairs_(
    csv_file: Path = typer.Option(..., "--csv", help="CSV with columns path_a,path_b,same."),
    root: Optional[Path] = typer.Option(None, "--root", help="Folder relative paths resolve against (default: the CSV's folder)."),
    skip_missing: bool = typer.Option(False, "--skip-missing", help="Skip pairs whose images are missing (counted in the report)."),
    detector: str = DetectorOpt, recognizer: str = RecognizerOpt, compare: Optional[list[str]] = CompareOpt,
    fusion: bool = FusionOpt, workers: int = WorkersOpt, report: Optional[Path] = ReportOpt,
    cache: Optional[Path] = CacheOpt, as_json: bool = JsonOpt,
) -> None:
    """Any labelled pair list: 10-fold accuracy (round-robin folds), AUC, EER, TAR@FAR."""
    from facetrust.evaluation.cache import EmbeddingCache
    from facetrust.evaluation.pairs import read_pairs_csv
    from facetrust.evaluation.provenance import describe_run
    from facetrust.evaluation.verification import run_verification

    with user_errors():
        pair_list, skipped = read_pairs_csv(csv_file, root, skip_missing=skip_missing)
        models = _models(detector, recognizer, compare, None)
        with EmbeddingCache(cache) as store:
            run = run_verification(pair_list, models, store, workers=_workers(workers), fusion=fusion)
        result = describe_run("pairs", run, models, {"pairs_file": str(csv_file), "skipped_missing": len(skipped)})
        result["notes"] += skipped
        _finish_verification(result, run, report, as_json, f"Pairs {csv_file.name}")


@app.command()
def identification(
    root: Path = typer.Option(..., "--root", help="Folder with one sub-folder of images per identity."),
    seed: int = typer.Option(0, "--seed", help="Seed of the gallery/probe split."),
    max_people: Optional[int] = typer.Option(None, "--max-people", help="Use a seeded random subset of identities."),
    centre_fallback: bool = typer.Option(False, "--centre-fallback", help="Pre-aligned data (LFW): use the centre crop where no face is detected."),
    detector: str = DetectorOpt, recognizer: str = RecognizerOpt, compare: Optional[list[str]] = CompareOpt,
    workers: int = WorkersOpt, report: Optional[Path] = ReportOpt, cache: Optional[Path] = CacheOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Closed-set rank-1/5 and CMC, open-set DIR@FPIR; one gallery image per identity with >= 2 images."""
    from facetrust.evaluation.cache import EmbeddingCache
    from facetrust.evaluation.identification import identification_metrics, run_identification, split_identities
    from facetrust.evaluation.lfw import LFW_FALLBACK_BOX
    from facetrust.evaluation.provenance import describe_models, versions
    from facetrust.evaluation.reporting import write_identification_report

    with user_errors():
        split = split_identities(root, seed=seed, max_people=max_people)
        models = _models(detector, recognizer, compare, LFW_FALLBACK_BOX if centre_fallback else None)
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
        _finish(result, report, as_json, title, IDENTIFICATION_ROWS,
                lambda folder: write_identification_report(result, folder, title))


FORGERY_ROWS = [
    ("frame AUC", "frame/auc"), ("frame AP", "frame/ap"), ("frame EER", "frame/eer"),
    ("frame accuracy @ 0.5", "frame/accuracy"), ("frame TPR @ 0.5", "frame/tpr"), ("frame FPR @ 0.5", "frame/fpr"),
    ("frames real", "frame/n_real"), ("frames fake", "frame/n_fake"), ("frames unavailable", "frame/unavailable"),
    ("video AUC", "video/auc"), ("video AP", "video/ap"), ("video accuracy @ 0.5", "video/accuracy"),
    ("videos real", "video/n_real"), ("videos fake", "video/n_fake"),
]


@app.command("forgery")
def forgery_(
    labels: Path = typer.Option(..., "--labels", help="CSV with columns file,label (real|fake)[,method]."),
    root: Optional[Path] = typer.Option(None, "--root", help="Folder the CSV's paths are relative to (default: its folder)."),
    forgery_detector: Optional[list[str]] = typer.Option(None, "--detector", "-m", help="Forgery detector (repeatable; default: sbi and mesonet, plus their fusion)."),
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
    from facetrust.forensics.evaluation import evaluate_forgery, read_forgery_labels, write_forgery_report
    from facetrust.perturb import DEFAULT_PERTURBATIONS

    with user_errors():
        items, skipped = read_forgery_labels(labels, root, group_pattern, skip_missing, method_column)
        perturbations = [] if no_robustness else list(perturbation or DEFAULT_PERTURBATIONS)
        with ScoreCache(cache or default_score_cache()) as store:
            result, curves = evaluate_forgery(items, list(forgery_detector or ("sbi", "mesonet")), perturbations, store,
                                              every, max_frames, crops, device=device, progress=not as_json)
        result["notes"] += skipped
        _finish(result, report, as_json, f"Forgery {labels.name}", FORGERY_ROWS,
                lambda folder: write_forgery_report(result, curves, folder))
