"""``facetrust forgery``: is a face manipulated? Images per face, videos per face track."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from facetrust.cli.common import InputResults, user_errors
from facetrust.defaults import DEFAULT_CHECK_DETECTOR, DEFAULT_FORGERY_DETECTOR


def _describe(result: dict[str, Any]) -> str:
    if result["status"] == "unavailable":
        return f"[yellow]unavailable[/yellow]: {result.get('reason') or '; '.join(result.get('unavailable_reasons', []))}"
    colour = "red" if result["status"] == "fake" else "green"
    return f"[{colour}]{result['status']}[/{colour}] {result['score']:.3f} (threshold {result['threshold']:.4g})"


def _segments(record: dict[str, Any]) -> str:
    parts = [f"{s['start_time']:.1f}-{s['end_time']:.1f}s" for s in record.get("segments", [])]
    drift = record.get("drift") or {}
    text = f"suspicious: {', '.join(parts) or 'none'}"
    if drift.get("score") is not None:
        text += f"; identity drift {drift['score']:.3f}"
    return text


def print_forgery_table(records: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    from facetrust.cli.report import path_column

    console = Console()
    column, paths = path_column((record["path"] for record in records), console)
    table = Table(column, "face", "box / frames", "forgery", "region / segments")
    for record in records:
        if "error" in record:
            table.add_row(paths[record["path"]], "-", "-", f"[red]{record['error']}[/red]", "")
        elif "tracks" in record:
            if not record["tracks"]:
                table.add_row(paths[record["path"]], "-", f"{record['frames_sampled']} frames", _describe(record), "")
            for track in record["tracks"]:
                subject = " (subject)" if track["track"] == record["subject_track"] else ""
                table.add_row(paths[record["path"]], f"track {track['track']}{subject}",
                              f"{track['frames_scored']}/{track['frames']} frames scored", _describe(track),
                              _segments(track))
        else:
            for i, face in enumerate(record["faces"]):
                region = face["forgery"].get("region")
                table.add_row(paths[record["path"]], str(i), str([round(v) for v in face["box"]]), _describe(face["forgery"]),
                              "" if region is None else str([round(v) for v in region]))
    console.print(table)


def forgery(
    inputs: list[str] = typer.Argument(..., help="Images, videos, folders (recursive) or globs."),
    model: str = typer.Option(DEFAULT_FORGERY_DETECTOR, "--model", "-m", help="Forgery model: sbi (default), fusion (mean of sbi and mesonet), mesonet, meso4-df, …"),
    threshold: Optional[float] = typer.Option(None, "--threshold", help="Threshold on P(fake) (default: the model's operating threshold, e.g. sbi 0.7358, fusion 0.8577, MesoNet 0.5)."),
    detector: str = typer.Option(DEFAULT_CHECK_DETECTOR, "--detector", "-d", help="Face detector that finds the faces to check."),
    face_detector: Optional[str] = typer.Option(None, "--face-detector", hidden=True, help="Deprecated spelling of --detector."),
    crops: bool = typer.Option(False, "--crops", help="Inputs are face crops: use the whole image where no face is found."),
    heatmap: Optional[Path] = typer.Option(None, "--heatmap", help="Folder for heat-map overlays of images (PNG)."),
    every: float = typer.Option(0.2, "--every", min=0.0, help="Seconds between sampled video frames (0 = every frame)."),
    max_frames: Optional[int] = typer.Option(100, "--max-frames", min=1, help="Sampled video frames at most (bounds time and memory)."),
    device: str = typer.Option("cpu", "--device", help="Execution device for the ONNX models: cpu, cuda, …"),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON on stdout."),
) -> None:
    """Real or fake, per face (images) or per face track (videos, with identity drift and
    suspicious segments). Exit 1 if an input could not be checked."""
    from facetrust.errors import FaceNotFoundError
    from facetrust.forensics.checker import ForgeryChecker
    from facetrust.io import expand_inputs, is_video

    results = InputResults()
    with user_errors():
        checker = ForgeryChecker(model, threshold=threshold, face_detector=face_detector or detector, device=device,
                                 crop_fallback=crops)
        paths = expand_inputs(inputs, allow_video=True)
        checker.load_models()
        for path in paths:
            with results.item(path):
                if is_video(path):
                    video = checker.check_video(path, every_seconds=every, max_frames=max_frames, progress=True)
                    results.records.append(video.to_dict(include_frames=as_json))
                    continue
                image = checker.analyzer.load(path)
                faces = checker.check_rgb(image)
                if heatmap is not None and faces:
                    from facetrust.forensics.overlay import save_overlay

                    save_overlay(image, faces, heatmap / f"{path.stem}_forgery.png")
                if not faces:
                    raise FaceNotFoundError(f"no face found in {path}")
                results.records.append({"path": str(path), "faces": [r.to_dict() for r in faces]})
    results.finish(as_json, print_forgery_table)
