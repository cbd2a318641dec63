"""``facetrust liveness``: check images and videos, evaluate on a labelled set, fit a calibration."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from facetrust.cli.common import InputResults, print_json, user_errors
from facetrust.defaults import DEFAULT_CHECK_DETECTOR, DEFAULT_LIVENESS_MODEL

app = typer.Typer(help="Liveness / presentation-attack detection (is this a live person?).", no_args_is_help=True)

ModelOpt = typer.Option(DEFAULT_LIVENESS_MODEL, "--model", "-m", help="minifasnet (default), minifasnet-v2, minifasnet-v1se; cues moire, lbp-colour (need `fit`); minifasnet+cues.")
DetectorOpt = typer.Option(DEFAULT_CHECK_DETECTOR, "--detector", "-d", help="Face detector that finds the faces to check.")
ThresholdOpt = typer.Option(None, "--threshold", help="Threshold on P(live) (default 0.5, or the calibration's).")
CalibrationOpt = typer.Option(None, "--calibration", help="Calibration JSON written by `facetrust liveness fit`.")
DeviceOpt = typer.Option("cpu", "--device", help="Execution device for the ONNX models: cpu, cuda, …")
JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON on stdout.")
LabelsOpt = typer.Option(..., "--labels", help="CSV with columns file,label (live|spoof),attack_type.")
RootOpt = typer.Option(None, "--root", help="Folder the CSV's file paths are relative to (default: the CSV's folder).")
CacheOpt = typer.Option(None, "--cache", help="Result cache for resuming (default ~/.cache/facetrust/liveness.sqlite).")


def _checker(model: str, detector: str, threshold: Optional[float], calibration: Optional[Path], device: str) -> Any:
    from facetrust.liveness import LivenessChecker

    return LivenessChecker(model=model, threshold=threshold, calibration=calibration, detector=detector, device=device)


def _describe(result: dict[str, Any]) -> str:
    if result["status"] == "unavailable":
        reason = result.get("reason") or "; ".join(result.get("unavailable_reasons", []))
        return f"[yellow]unavailable[/yellow]: {reason}"
    colour = "green" if result["status"] == "live" else "red"
    return f"[{colour}]{result['status']}[/{colour}] {result['score']:.3f} (threshold {result['threshold']:.3f})"


@app.command()
def check(
    inputs: list[str] = typer.Argument(..., help="Images, videos, folders (recursive) or globs."),
    model: str = ModelOpt, detector: str = DetectorOpt, threshold: Optional[float] = ThresholdOpt,
    calibration: Optional[Path] = CalibrationOpt, device: str = DeviceOpt, as_json: bool = JsonOpt,
    every: float = typer.Option(0.5, "--every", min=0.0, help="Seconds between sampled video frames (0 = every frame)."),
    max_frames: Optional[int] = typer.Option(None, "--max-frames", min=1, help="Stop after this many sampled video frames."),
    cues: int = typer.Option(0, "--cues", min=0, help="Videos: also measure blinks, planar motion and the head-turn "
                                                 "challenge over the first N frames (every frame; 0 = off)."),
) -> None:
    """Live or spoof, per face (images) or per face track (videos). Exit 1 if an input could not be checked."""
    from facetrust.io import expand_inputs, is_video

    results = InputResults()
    with user_errors():
        checker = _checker(model, detector, threshold, calibration, device)
        paths = expand_inputs(inputs, allow_video=True)
        checker.load_models()
        for path in paths:
            with results.item(path):
                if is_video(path):
                    results.records.append(checker.check_video(path, every_seconds=every, max_frames=max_frames,
                                                                     cue_frames=cues, progress=True).to_dict())
                else:
                    results.records.append({"path": str(path), "faces": [f.to_dict() for f in checker.check(path)]})
    results.finish(as_json, _print_liveness)


def _print_liveness(records: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    from facetrust.cli.report import path_column

    console = Console()
    column, paths = path_column((record["path"] for record in records), console)
    table = Table(column, "face", "box / frames", "liveness")
    for record in records:
        if "error" in record:
            table.add_row(paths[record["path"]], "-", "-", f"[red]{record['error']}[/red]")
        elif "tracks" in record:
            if not record["tracks"]:
                table.add_row(paths[record["path"]], "-", f"{record['frames_sampled']} frames", _describe(record))
            for track in record["tracks"]:
                subject = " (subject)" if track["track"] == record["subject_track"] else ""
                table.add_row(paths[record["path"]], f"track {track['track']}{subject}",
                              f"{track['frames_scored']}/{track['frames']} frames scored", _describe(track))
            if "cues" in record:
                cue = next(t for t in record["cues"]["tracks"] if t["track"] == record["cues"]["subject_track"])
                residual = cue["planar_residual"]
                table.add_row(paths[record["path"]], "video cues (subject)", f"{cue['frames']} frames",
                              f"blinks {len(cue['blinks'])}; planar residual "
                              f"{'–' if residual is None else f'{residual:.4f}'}; "
                              f"challenge {'passed' if cue['challenge']['passed'] else 'not passed'}")
        else:
            for i, face in enumerate(record["faces"]):
                box = str([round(v) for v in face["box"]])
                table.add_row(paths[record["path"]], str(i), box, _describe(face["liveness"]))
    console.print(table)


PAD_ROWS = [
    ("APCER max (worst species)", "apcer_max"), ("BPCER", "bpcer"), ("ACER", "acer"), ("EER (pooled)", "eer"),
    ("BPCER @ APCER=5%", "bpcer_at_apcer/0.05"), ("BPCER @ APCER=10%", "bpcer_at_apcer/0.1"),
    ("APNRR (attack non-response)", "apnrr"), ("BPNRR (bona fide non-response)", "bpnrr"),
    ("threshold", "threshold"), ("bona fide scored", "n_bona_fide"),
    ("presentations/s (this run, cache hits included)", "presentations_per_second"),
]


def evaluate(
    labels: Path = LabelsOpt, root: Optional[Path] = RootOpt, model: str = ModelOpt, detector: str = DetectorOpt,
    threshold: Optional[float] = ThresholdOpt, calibration: Optional[Path] = CalibrationOpt, device: str = DeviceOpt,
    report: Optional[Path] = typer.Option(None, "--report", help="Folder for report.json/.md/.html, DET plot, CSV."),
    cache: Optional[Path] = CacheOpt, as_json: bool = JsonOpt,
) -> None:
    """ISO/IEC 30107-3 metrics on a labelled set: APCER per attack type and max, BPCER, ACER, EER, BPCER@APCER."""
    from facetrust.cli.report import print_metrics
    from facetrust.liveness.cache import LivenessCache
    from facetrust.liveness.evaluation import evaluate as run_evaluation
    from facetrust.liveness.evaluation import read_labels, write_pad_report
    from facetrust.parallel import progress_map

    with user_errors():
        presentations = read_labels(labels, root)
        checker = _checker(model, detector, threshold, calibration, device)
        with LivenessCache(cache) as store:
            result, scored = run_evaluation(checker, presentations, cache=store, progress=lambda items, n: progress_map(
                items, n, "liveness", enabled=n > 1))
        if report is not None:
            paths = write_pad_report(result, scored, report, root or labels.parent)
            result["report"] = {name: str(path) for name, path in paths.items()}
    if as_json:
        print_json(result)
        return
    metrics = result["metrics"]
    species_rows = [(f"APCER {name}", f"apcer/{name}") for name in next(iter(metrics.values()))["apcer"]]
    print_metrics(f"PAD {labels.name}", metrics, species_rows + PAD_ROWS)
    for note in result["notes"]:
        typer.echo(f"note: {note}", err=True)
    if report is not None:
        typer.echo(f"report: {result['report']['html']}", err=True)


app.command("eval")(evaluate)


@app.command()
def fit(
    labels: Path = LabelsOpt, out: Path = typer.Option(..., "--out", help="Calibration JSON to write."),
    root: Optional[Path] = RootOpt, model: str = ModelOpt, detector: str = DetectorOpt, device: str = DeviceOpt,
    apcer: float = typer.Option(0.05, "--apcer", help="Target APCER (every attack species) for the threshold."),
    cache: Optional[Path] = CacheOpt, as_json: bool = JsonOpt,
) -> None:
    """Fit score fusion + calibration and the threshold at --apcer on your own labelled live/spoof images."""
    from facetrust.liveness.cache import LivenessCache
    from facetrust.liveness.calibration import fit_presentations
    from facetrust.liveness.evaluation import read_labels
    from facetrust.parallel import progress_map

    with user_errors():
        presentations = read_labels(labels, root)
        checker = _checker(model, detector, None, None, device)
        with LivenessCache(cache) as store:
            # The model's own per-model scores / cue features are the fit's inputs.
            calibration = fit_presentations(checker, presentations, target_apcer=apcer, cache=store,
                                            fitted_on={"labels": str(labels)},
                                            progress=lambda items, n: progress_map(items, n, "scoring", enabled=n > 1))
        calibration.save(out)
    if as_json:
        print_json(calibration.to_dict())
        return
    typer.echo(f"wrote {out}: threshold {calibration.threshold:.4f} at APCER <= {apcer:g} "
               f"({calibration.fitted_on['n_bona_fide']} bona fide, {calibration.fitted_on['n_attacks']} attacks)")
    for note in calibration.notes:
        typer.echo(f"note: {note}", err=True)
