"""``facetrust quality``: per-face quality scores, and training a learned quality model."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from facetrust.cli.common import InputResults, PresetOpt, parse_options, user_errors
from facetrust.defaults import DEFAULT_FMR, DEFAULT_QUALITY_METHOD

app = typer.Typer(help="Face image quality: how useful is each face for recognition?", no_args_is_help=True)

MethodOpt = typer.Option(None, "--method", "-m", help=f"Quality method: learned, explainable or stability (default: "
                                                      f"{DEFAULT_QUALITY_METHOD} where calibrated for the recognizer, "
                                                      "else explainable).")
DetectorOpt = typer.Option(None, "--detector", "-d", help="Detector name (default: the preset's).")
RecognizerOpt = typer.Option(None, "--recognizer", "-r", help="Recognizer name (learned and stability use it; default: the preset's).")


@app.command()
def assess(
    inputs: list[str] = typer.Argument(..., help="Image files, folders (recursive) or globs."),
    method: Optional[str] = MethodOpt, preset: Optional[str] = PresetOpt, detector: Optional[str] = DetectorOpt,
    recognizer: Optional[str] = RecognizerOpt,
    model: Optional[Path] = typer.Option(None, "--model", help="Learned model file from `facetrust quality train`."),
    threshold: Optional[float] = typer.Option(None, "--threshold", help="Acceptance threshold (default: the method's recommended one)."),
    detector_opt: Optional[list[str]] = typer.Option(None, "--detector-opt", help="Detector option KEY=VALUE (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON on stdout."),
) -> None:
    """Quality score (0-100), components and reasons for every face; exit status 1 if an image fails."""
    from facetrust.analyzer import AnalyzerConfig, FaceAnalyzer
    from facetrust.io import expand_inputs
    from facetrust.quality import assess_faces, create_assessor

    results = InputResults()
    with user_errors():
        analyzer = FaceAnalyzer(AnalyzerConfig(preset=preset, detector=detector, recognizer=recognizer,
                                               detector_options=parse_options(detector_opt)))
        options: dict[str, Any] = {"threshold": threshold}
        if model is not None:
            options["model"] = model
        assessor = create_assessor(method or ("learned" if model is not None else None), analyzer, **options)
        for path in expand_inputs(inputs):
            with results.item(path):
                image = analyzer.load(path)
                faces = analyzer.analyze_rgb(image, embed=assessor.name == "learned")
                assess_faces(image, faces, assessor)
                results.records.append({"path": str(path), "faces": [f.to_dict(include_embedding=False) for f in faces]})
    results.finish(as_json, _print_quality)


def _print_quality(records: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    from facetrust.cli.report import path_column

    console = Console()
    column, paths = path_column((record["path"] for record in records), console)
    table = Table(column, "face", "box", "quality", "ok", "reasons")
    for record in records:
        if "error" in record:
            table.add_row(paths[record["path"]], "-", "-", "-", "-", f"[red]{record['error']}[/red]")
            continue
        if not record["faces"]:
            table.add_row(paths[record["path"]], "-", "no face", "-", "-", "")
        for index, face in enumerate(record["faces"]):
            quality = face["quality"]
            table.add_row(paths[record["path"]] if index == 0 else "", str(index), str([round(v) for v in face["box"]]),
                          f"{quality['score']:.1f}", "yes" if quality["acceptable"] else "[red]no[/red]",
                          ", ".join(quality["reasons"]))
    console.print(table)


@app.command()
def train(
    root: Path = typer.Option(..., "--root", help="Folder with one sub-folder of images per identity."),
    out: Path = typer.Option(..., "--out", help="Model file to write (JSON)."),
    preset: Optional[str] = PresetOpt, detector: Optional[str] = DetectorOpt,
    recognizer: Optional[str] = RecognizerOpt,
    kind: str = typer.Option("linear", "--kind", help="Regressor: linear (ridge, as shipped) or mlp (32 ReLU units)."),
    inputs: Optional[list[str]] = typer.Option(None, "--input", help="Model input group, repeatable: components, "
                                               "detector_score, perturbations, embedding (default: as shipped)."),
    fmr: float = typer.Option(DEFAULT_FMR, "--fmr", help="FMR of the decision threshold the quality threshold is tuned for."),
    workers: int = typer.Option(0, "--workers", "-w", help="Worker processes (0 = one per core)."),
    cache: Optional[Path] = typer.Option(None, "--cache", help="Feature cache folder (default ~/.cache/facetrust/quality)."),
) -> None:
    """Fit a learned quality model on your own labelled faces (SDD-FIQA labels; needs scikit-learn)."""
    from facetrust.analyzer import AnalyzerConfig
    from facetrust.parallel import default_workers
    from facetrust.quality.training import train_on_folder

    with user_errors():
        import importlib.util

        if importlib.util.find_spec("sklearn") is None:
            from facetrust.errors import ConfigError

            raise ConfigError("training needs scikit-learn: pip install 'facetrust[quality-train]'")
        store = cache or Path.home() / ".cache" / "facetrust" / "quality"
        record = train_on_folder(root, AnalyzerConfig(preset=preset, detector=detector, recognizer=recognizer), out, store,
                                 kind=kind, inputs=inputs or None, fmr=fmr, workers=workers if workers > 0 else default_workers())
        typer.echo(f"wrote {out}: {record['training_images']} images of {len(record['training_identities'])} "
                   f"identities, recommended threshold {record['threshold']}")
