"""``facetrust batch``: many images on a Ray cluster into partitioned, resumable Parquet
(facetrust.batch; Ray is imported only when a job runs)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from facetrust.cli.common import PresetOpt, parse_check_options, parse_options, print_json, user_errors

app = typer.Typer(help="Batch processing on a Ray cluster: detect, embed and check into Parquet.",
                  no_args_is_help=True)


@app.command()
def run(
    inputs: list[str] = typer.Argument(..., help="Image folders (recursive), globs, URIs (s3://, gs://, file://) "
                                                 "or CSV/Parquet manifests with a path/URI column."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: one Parquet file per partition (rerun to resume)."),
    preset: Optional[str] = PresetOpt,
    detector: Optional[str] = typer.Option(None, "--detector", "-d", help="Detector name (default: the preset's)."),
    recognizer: Optional[str] = typer.Option(None, "--recognizer", "-r", help="Recognizer name (default: the preset's)."),
    detector_opt: Optional[list[str]] = typer.Option(None, "--detector-opt", help="Detector option KEY=VALUE (repeatable)."),
    recognizer_opt: Optional[list[str]] = typer.Option(None, "--recognizer-opt", help="Recognizer option KEY=VALUE (repeatable)."),
    check: Optional[list[str]] = typer.Option(None, "--check", "-c", help="Per-face check: quality, liveness, forgery, attributes or pose (repeatable)."),
    check_opt: Optional[list[str]] = typer.Option(None, "--check-opt", help="Check option CHECK.KEY=VALUE (repeatable)."),
    device: str = typer.Option("cpu", "--device", help="Execution device of the ONNX models on the workers: cpu, cuda, …"),
    max_pixels: Optional[int] = typer.Option(None, "--max-pixels", min=256, help="Reject images above this many pixels (default 50M)."),
    address: Optional[str] = typer.Option(None, "--address", help="Running Ray cluster: HOST:PORT, ray://HOST:PORT or auto (default: start one on this machine)."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1, help="Actors, each with its own models (default: one per CPU of the cluster, per GPU with --device cuda)."),
    partition_size: int = typer.Option(256, "--partition-size", min=1, help="Inputs per partition (one Parquet file each)."),
    restarts: int = typer.Option(2, "--restarts", min=0, help="Times a worker process that died (crash, out of memory) is restarted and its partition retried before the job fails."),
    column: Optional[str] = typer.Option(None, "--column", help="Manifest column with the paths or URIs (default: path, uri, source or file)."),
    as_json: bool = typer.Option(False, "--json", help="Print the run's summary as JSON on stdout."),
) -> None:
    """Detect, embed and check every image into OUT/part-*.parquet: one row per face, one per
    input without a face or with an error (the job goes on); finished partitions are skipped on a rerun."""
    from facetrust.analyzer import AnalyzerConfig
    from facetrust.batch import run_batch

    with user_errors():
        config = AnalyzerConfig(preset=preset, detector=detector, recognizer=recognizer,
                                detector_options=parse_options(detector_opt),
                                recognizer_options=parse_options(recognizer_opt), device=device,
                                max_pixels=max_pixels, checks=tuple(check or ()),
                                check_options=parse_check_options(check, check_opt))
        try:
            report = run_batch(inputs, out, config, address=address, workers=workers, partition_size=partition_size,
                               column=column, progress=not as_json, restarts=restarts)
        except KeyboardInterrupt:
            typer.echo(f"interrupted: finished partitions stay in {out}; rerun the same command to resume", err=True)
            raise typer.Exit(130) from None
    if as_json:
        print_json(report.to_dict())
        return
    typer.echo(f"{out}: {len(report.written)} partition(s) written, {report.skipped_partitions} already finished; "
               f"{report.images} images, {report.faces} faces, {report.failed} failed input(s) "
               f"(rows with an error)" + (f"; {report.rate:.1f} images/s on {report.workers} worker(s), start-up included"
                                          if report.images else ""))
