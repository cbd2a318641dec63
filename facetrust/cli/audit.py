"""``facetrust audit``: fairness and robustness audits of recognizers (logic in facetrust.audit)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from facetrust.cli.common import PresetOpt, print_json, user_errors
from facetrust.cli.evaluate import CacheOpt, CompareOpt, DetectorOpt, JsonOpt, RecognizerOpt, WorkersOpt, _models, _workers
from facetrust.defaults import DEFAULT_FMR, DEFAULT_FORGERY_DETECTOR, DEFAULT_LIVENESS_MODEL

app = typer.Typer(help="Audit recognizers: fairness across people and groups, robustness to perturbations.",
                  no_args_is_help=True)

ReportOpt = typer.Option(None, "--report", help="Folder for report.json / report.md / report.html and PNG plots.")
FmrOpt = typer.Option(DEFAULT_FMR, "--fmr", help="False-match rate of the global decision threshold.")


def _print(result: dict, rows: list[tuple[str, str]], as_json: bool, report: Optional[Path],
           write) -> None:  # type: ignore[no-untyped-def]
    from facetrust.cli.report import print_metrics

    if report is not None:
        result["report"] = {name: str(path) for name, path in write(report).items()}
    if as_json:
        from facetrust.audit.report import without_arrays

        print_json(without_arrays(result))
        return
    print_metrics(result["protocol"], result["metrics"], rows)
    if report is not None:
        typer.echo(f"report: {result['report']['html']}", err=True)


FAIRNESS_ROWS = [
    ("images", "images"), ("threshold @ FMR", "threshold"), ("FNMR @ threshold", "fnmr"),
    ("identities", "identity/identities"), ("Gini of identity FPR", "identity/gini"),
    ("median identity FPR", "identity/median_fpr"), ("worst-decile identity FPR", "identity/worst_decile_mean_fpr"),
    ("worst decile / median", "identity/worst_decile_to_median"),
    ("identities without a false match", "identity/identities_with_no_false_match"),
]


def _group_rows(columns: list[str]) -> list[tuple[str, str]]:
    return [(f"{column}: {caption}", f"groups/{column}/summary/{key}") for column in columns
            for caption, key in (("FMR max/min", "fmr_max_over_min"), ("FNMR max/min", "fnmr_max_over_min"),
                                 ("FDR", "fairness_discrepancy_rate"))]


@app.command()
def fairness(
    root: Path = typer.Option(..., "--root", help="Image folder (one sub-folder per identity, e.g. LFW)."),
    groups: Optional[Path] = typer.Option(None, "--groups", help="CSV file,group,... of group labels (paths relative to --root)."),
    group_column: Optional[list[str]] = typer.Option(None, "--group-column", help="Group column to audit (repeatable; default: all)."),
    only_labelled: Optional[str] = typer.Option(None, "--only-labelled", help="Audit only the images labelled in this column."),
    skip_missing: bool = typer.Option(False, "--skip-missing", help="Leave out CSV files missing under --root (counted)."),
    fmr: float = FmrOpt, preset: Optional[str] = PresetOpt, detector: Optional[str] = DetectorOpt,
    recognizer: Optional[str] = RecognizerOpt,
    compare: Optional[list[str]] = CompareOpt, workers: int = WorkersOpt, report: Optional[Path] = ReportOpt,
    cache: Optional[Path] = CacheOpt, as_json: bool = JsonOpt,
    centre_fallback: bool = typer.Option(False, "--centre-fallback", help="Pre-aligned data (LFW): embed the centre crop where no face is detected."),
) -> None:
    """Per-identity false-positive rates (label-free) and per-group FMR/FNMR differentials."""
    from facetrust.audit.fairness import audit_fairness
    from facetrust.audit.groups import folder_set, read_group_csv
    from facetrust.audit.report import fairness_figures, fairness_report, write_audit_report
    from facetrust.evaluation.cache import EmbeddingCache
    from facetrust.evaluation.lfw import LFW_FALLBACK_BOX
    from facetrust.evaluation.provenance import describe_models

    with user_errors():
        audit_set = (read_group_csv(groups, root, group_column, only_labelled, skip_missing) if groups
                     else folder_set(root))
        models = _models(detector, recognizer, compare, LFW_FALLBACK_BOX if centre_fallback else None, preset)
        with EmbeddingCache(cache) as store:
            audited = audit_fairness(audit_set, models, store, fmr, workers=_workers(workers))
        dataset = {"root": str(root), "groups_csv": str(groups) if groups else None, "images": len(audit_set.paths),
                   "identities": len(set(audit_set.identities)), "only_labelled": only_labelled}
        result = fairness_report(audited, describe_models(models), dataset, audit_set.notes)
        _print(result, FAIRNESS_ROWS + _group_rows(list(audit_set.groups)), as_json, report,
               lambda folder: write_audit_report(result, fairness_figures(audited, folder), folder))


@app.command()
def robustness(
    root: Path = typer.Option(..., "--root", help="LFW image folder (one folder per person)."),
    pairs: Path = typer.Option(..., "--pairs", help="The View-2 pairs.txt."),
    fold: Optional[list[int]] = typer.Option(None, "--fold", help="Use only these View-2 folds, 1-10 (repeatable; default: all)."),
    per_class: Optional[int] = typer.Option(None, "--per-class", help="Use only the first N same and N different pairs (of the chosen folds)."),
    perturbation: Optional[list[str]] = typer.Option(None, "--perturbation", help="Perturbation to run (repeatable; default: all of facetrust.perturb.SEVERITY_GRID)."),
    fmr: float = FmrOpt, preset: Optional[str] = PresetOpt, detector: Optional[str] = DetectorOpt,
    recognizer: Optional[str] = RecognizerOpt,
    compare: Optional[list[str]] = CompareOpt, report: Optional[Path] = ReportOpt, as_json: bool = JsonOpt,
    cache: Optional[Path] = typer.Option(None, "--cache", help="Audit cache of detections and perturbed embeddings (default ~/.cache/facetrust/robustness.sqlite): a rerun or an interrupted run resumes from it."),
    groups: Optional[Path] = typer.Option(None, "--groups", help="CSV file,group,... of group labels (paths relative to --root): FNMR per group under every perturbation."),
    group_column: Optional[list[str]] = typer.Option(None, "--group-column", help="Group column to audit (repeatable; default: all)."),
) -> None:
    """Accuracy and TAR at the FMR threshold under 10 perturbations at 5 severities each (per group with --groups)."""
    from facetrust.analyzer import AnalyzerConfig, FaceAnalyzer
    from facetrust.audit.cache import RobustnessCache
    from facetrust.audit.groups import read_group_csv
    from facetrust.audit.report import robustness_figures, robustness_report, write_audit_report
    from facetrust.audit.robustness import audit_robustness, first_per_class, fold_subset
    from facetrust.errors import ConfigError
    from facetrust.evaluation.lfw import LFW_FALLBACK_BOX, read_lfw_pairs
    from facetrust.evaluation.provenance import describe_models
    from facetrust.perturb import SEVERITY_GRID

    with user_errors():
        unknown = sorted(set(perturbation or ()) - set(SEVERITY_GRID))
        if unknown:
            raise ConfigError(f"unknown perturbation {', '.join(unknown)}; known: {', '.join(SEVERITY_GRID)}")
        if group_column and not groups:
            raise ConfigError("--group-column needs --groups (the CSV of group labels)")
        grid = {k: v for k, v in SEVERITY_GRID.items() if not perturbation or k in perturbation}
        labels = read_group_csv(groups, root, group_column).labels_by_path() if groups else None
        pair_list = read_lfw_pairs(pairs, root)
        if fold:
            pair_list = fold_subset(pair_list, fold)
        if per_class:
            pair_list = first_per_class(pair_list, per_class)
        models = _models(detector, recognizer, compare, LFW_FALLBACK_BOX, preset)
        audited = {}
        with RobustnessCache(cache) as store:
            for model in models:
                analyzer = FaceAnalyzer(AnalyzerConfig(detector=model.detector, recognizer=model.recognizer,
                                                       fallback_box=LFW_FALLBACK_BOX))
                audited[model.label] = audit_robustness(pair_list, analyzer, analyzer.threshold(fmr), grid, cache=store,
                                                        groups=labels)
        dataset = {"root": str(root), "pairs_file": str(pairs), "folds": fold or "all", "pairs_per_class": per_class or "all",
                   "fmr": fmr, "groups_csv": str(groups) if groups else None}
        result = robustness_report(audited, describe_models(models), dataset)
        rows = [("pairs", "pairs"), ("clean accuracy", "clean/accuracy"), ("clean TAR @ threshold", "clean/tar_at_threshold")]
        rows += [(f"{kind} {value:g}: accuracy", f"{kind}/{value:g}/accuracy") for kind, values in grid.items()
                 for value in values]
        rows += [(f"{name}: {column} FNMR max - min", f"{path}/groups/{column}/fnmr_max_minus_min")
                 for column in (labels or {})
                 for name, path in [("clean", "clean")] + [(f"{kind} {values[-1]:g}", f"{kind}/{values[-1]:g}")
                                                           for kind, values in grid.items()]]
        _print(result, rows, as_json, report,
               lambda folder: write_audit_report(result, robustness_figures(audited, folder), folder))


@app.command("check-robustness")
def check_robustness(
    inputs: list[str] = typer.Argument(..., help="Images or folders (liveness: camera frames with the scene around "
                                                 "the face; forgery: colour face photos or crops, real and fake)."),
    check: Optional[list[str]] = typer.Option(None, "--check", help="liveness or forgery (repeatable; default: both)."),
    perturbation: Optional[list[str]] = typer.Option(None, "--perturbation", help="Perturbation to run (repeatable; default: all of facetrust.perturb.SEVERITY_GRID)."),
    liveness_model: str = typer.Option(DEFAULT_LIVENESS_MODEL, "--liveness-model", help="Liveness model (registry name)."),
    forgery_detector: str = typer.Option(DEFAULT_FORGERY_DETECTOR, "--forgery-detector", help="Forgery detector (registry name)."),
    crop_fallback: bool = typer.Option(False, "--crop-fallback", help="Forgery: take the whole image as the face where none is detected (face-crop datasets)."),
    cache: Optional[Path] = typer.Option(None, "--cache", help="Audit cache file (default ~/.cache/facetrust/robustness.sqlite)."),
    report: Optional[Path] = ReportOpt, as_json: bool = JsonOpt,
) -> None:
    """Share of liveness / forgery decisions that flip under 10 perturbations at 5 severities each."""
    from facetrust.audit.cache import RobustnessCache
    from facetrust.audit.check_flips import DECISIONS, audit_check_flips, forgery_under_test, liveness_under_test
    from facetrust.audit.report import check_flip_figures, check_flip_report, write_audit_report
    from facetrust.errors import ConfigError
    from facetrust.io import expand_inputs
    from facetrust.perturb import SEVERITY_GRID

    with user_errors():
        checks = list(dict.fromkeys(check or DECISIONS))
        for what, asked, known in (("check", checks, DECISIONS), ("perturbation", perturbation or (), SEVERITY_GRID)):
            unknown = sorted(set(asked) - set(known))
            if unknown:
                raise ConfigError(f"unknown {what} {', '.join(unknown)}; known: {', '.join(known)}")
        grid = {k: v for k, v in SEVERITY_GRID.items() if not perturbation or k in perturbation}
        paths = expand_inputs(inputs)
        audited = {}
        with RobustnessCache(cache) as store:
            for name in checks:
                if name == "liveness":
                    from facetrust.liveness.checker import LivenessChecker

                    under_test = liveness_under_test(LivenessChecker(model=liveness_model))
                else:
                    from facetrust.forensics.checker import ForgeryChecker

                    under_test = forgery_under_test(ForgeryChecker(detector=forgery_detector, crop_fallback=crop_fallback))
                audited[name] = audit_check_flips(paths, under_test, grid, cache=store)
        configuration = {"liveness_model": liveness_model, "forgery_detector": forgery_detector,
                         "crop_fallback": crop_fallback}
        result = check_flip_report(audited, configuration, {"inputs": list(inputs), "images": len(paths)})
        rows = [("images with a face", "images"), ("no face", "no_face")]
        rows += [(f"{kind} {value:g}: {caption}", f"{kind}/{value:g}/{key}") for kind, values in grid.items()
                 for value in values for caption, key in (("flipped", "flip_rate"), ("declined", "to_unavailable_rate"))]
        _print(result, rows, as_json, report,
               lambda folder: write_audit_report(result, check_flip_figures(audited, folder), folder))


@app.command()
def adversarial(
    root: Path = typer.Option(..., "--root", help="Image folder: LFW (one folder per person), or the folder --pairs-csv paths are relative to."),
    pairs: Optional[Path] = typer.Option(None, "--pairs", help="The View-2 pairs.txt."),
    pairs_csv: Optional[Path] = typer.Option(None, "--pairs-csv", help="Instead of --pairs: a CSV path_a,path_b,same (paths relative to --root), e.g. colour photos."),
    fold: Optional[list[int]] = typer.Option(None, "--fold", help="Use only these View-2 folds, 1-10 (repeatable)."),
    per_class: int = typer.Option(10, "--per-class", help="Attack the first N same and N different pairs."),
    attack: Optional[list[str]] = typer.Option(None, "--attack", help="fgsm, pgd, eyes (PGD inside an eye band) or detector (PGD against the face detector) (repeatable, run in this order; default: all)."),
    eps: Optional[list[float]] = typer.Option(None, "--eps", help="fgsm/pgd/detector L-inf budget in 1/255 (repeatable; default: 1 2 4 8)."),
    eye_eps: Optional[list[float]] = typer.Option(None, "--eye-eps", help="eyes L-inf budget in 1/255, 255 = unbounded in the band (repeatable; default: 16 32 255)."),
    transfer: Optional[list[str]] = typer.Option(None, "--transfer", help="Black-box recognizer to re-score the attacked photos with (repeatable; default: edgeface-xs edgeface-xxs w600k-mbf dlib-resnet reid-0095)."),
    no_transfer: bool = typer.Option(False, "--no-transfer", help="Skip the transfer recognizers."),
    no_checks: bool = typer.Option(False, "--no-checks", help="Skip the quality / liveness / forgery checks."),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="Photos attacked together (one ART batch)."),
    steps: int = typer.Option(10, "--steps", min=1, help="PGD / eyes / detector iterations (each eps/4)."),
    cache: Optional[Path] = typer.Option(None, "--cache", help="Folder keeping every attacked batch and its measurements: an interrupted run resumes, a rerun re-reads."),
    fmr: float = FmrOpt, preset: Optional[str] = PresetOpt, detector: Optional[str] = DetectorOpt,
    recognizer: Optional[str] = RecognizerOpt,
    report: Optional[Path] = ReportOpt, as_json: bool = JsonOpt,
) -> None:
    """White-box FGSM/PGD/eye-band dodging and impersonation at the FMR threshold: purification, transfer, checks;
    and PGD against the face detector."""
    from facetrust.analyzer import AnalyzerConfig, FaceAnalyzer
    from facetrust.audit.adversarial import (
        ATTACKS, DIFFERENTIABLE, TRANSFER, audit_adversarial, check_attacks, check_budgets,
    )
    from facetrust.audit.report import adversarial_figures, adversarial_report, write_audit_report
    from facetrust.audit.robustness import first_per_class, fold_subset
    from facetrust.errors import ConfigError
    from facetrust.evaluation.lfw import LFW_FALLBACK_BOX, read_lfw_pairs
    from facetrust.evaluation.pairs import read_pairs_csv
    from facetrust.evaluation.provenance import describe_models

    from facetrust.presets import resolve

    with user_errors():
        detector, recognizer = resolve(preset, detector, recognizer)
        if recognizer not in DIFFERENTIABLE:
            raise ConfigError(f"recognizer {recognizer!r} is not differentiable here: white-box attacks need one of "
                              f"{', '.join(DIFFERENTIABLE)}")
        check_attacks(attack or ())
        check_budgets(eps or (), eye_eps or (), steps)
        if (pairs is None) == (pairs_csv is None):
            raise ConfigError("give either --pairs (LFW pairs.txt) or --pairs-csv (path_a,path_b,same)")
        if pairs_csv is not None:
            if fold:
                raise ConfigError("--fold applies to --pairs (LFW View 2), not to --pairs-csv")
            pair_list = read_pairs_csv(pairs_csv, root)[0]
        else:
            pair_list = read_lfw_pairs(pairs, root)
            pair_list = fold_subset(pair_list, fold) if fold else pair_list
        pair_list = first_per_class(pair_list, per_class)
        models = _models(detector, recognizer, None, LFW_FALLBACK_BOX)
        analyzer = FaceAnalyzer(AnalyzerConfig(detector=detector, recognizer=recognizer, fallback_box=LFW_FALLBACK_BOX))
        audited = {models[0].label: audit_adversarial(
            pair_list, analyzer, fmr, tuple(attack or ATTACKS), tuple(eps or (1, 2, 4, 8)),
            tuple(eye_eps or (16, 32, 255)), () if no_transfer else tuple(transfer or TRANSFER), not no_checks,
            batch_size, steps, cache)}
        dataset = {"root": str(root), "pairs_file": str(pairs if pairs is not None else pairs_csv),
                   "folds": fold or "all", "pairs_per_class": per_class, "fmr": fmr}
        result = adversarial_report(audited, describe_models(models), dataset)
        audit = audited[models[0].label]
        rows = [("attacked genuine pairs", "dodging_pairs"), ("attacked impostor pairs", "impersonation_pairs")]
        rows += [(f"{name}: {key}", f"attacks/{name}/{key}/rate") for name, keys in audit["attacks"].items()
                 for key in keys if key.startswith(("dodging_none", "impersonation_none", "transfer", "dodged_none"))]
        _print(result, rows, as_json, report,
               lambda folder: write_audit_report(result, adversarial_figures(audited, folder), folder))
