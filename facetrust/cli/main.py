"""``facetrust`` CLI entry point. Logic lives in the library; this file only
parses options, calls the API and prints results (docs/cli.md has the JSON shapes)."""
from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any, Optional

import typer

from facetrust.cli import audit as audit_cli
from facetrust.cli import batch as batch_cli
from facetrust.cli import common
from facetrust.cli import evaluate as evaluate_cli
from facetrust.cli import forensics as forensics_cli
from facetrust.cli import gallery as gallery_cli
from facetrust.cli import liveness as liveness_cli
from facetrust.cli import models as models_cli
from facetrust.cli import privacy as privacy_cli
from facetrust.cli import quality as quality_cli
from facetrust.cli import server as server_cli
from facetrust.cli import train as train_cli
from facetrust.cli.common import InputResults, PresetOpt, parse_check_options, parse_options, print_json, user_errors
from facetrust.defaults import DEFAULT_FMR

app = typer.Typer(help="Trustworthy face analysis on a CPU.", no_args_is_help=True, add_completion=False)
app.add_typer(models_cli.app, name="models")
app.add_typer(server_cli.keys_app, name="keys")
app.command("serve")(server_cli.serve)
app.add_typer(evaluate_cli.app, name="eval")
app.add_typer(audit_cli.app, name="audit")
app.add_typer(batch_cli.app, name="batch")
app.command("forgery")(forensics_cli.forgery)
app.add_typer(gallery_cli.app, name="gallery")
app.add_typer(liveness_cli.app, name="liveness")
app.add_typer(quality_cli.app, name="quality")
app.add_typer(train_cli.app, name="train")
evaluate_cli.app.command("pad")(liveness_cli.evaluate)  # `facetrust eval pad` = `facetrust liveness eval`
app.add_typer(privacy_cli.app, name="privacy")
evaluate_cli.app.command("protection")(privacy_cli.protection)
app.command("anonymize")(privacy_cli.anonymize)


@app.callback()
def _root(indent: Optional[int] = typer.Option(
        None, "--indent", min=0, max=8,
        help="Pretty-print every --json result, indenting by N spaces (default: compact, one line per record).")) -> None:
    common.json_indent = indent


DetectorOpt = typer.Option(None, "--detector", "-d", help="Detector name (see `facetrust models list`; default: the preset's).")
RecognizerOpt = typer.Option(None, "--recognizer", "-r", help="Recognizer name (default: the preset's).")
DetOptsOpt = typer.Option(None, "--detector-opt", help="Detector option KEY=VALUE, e.g. upsample=1 (repeatable).")
RecOptsOpt = typer.Option(None, "--recognizer-opt", help="Recognizer option KEY=VALUE (repeatable).")
DeviceOpt = typer.Option("cpu", "--device", help="Execution device for ONNX models: cpu, cuda, …")
JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON on stdout.")
WorkersOpt = typer.Option(0, "--workers", "-w", min=0, help="Worker processes (0 = one per core for multi-image work).")
AnnotateOpt = typer.Option(None, "--annotate", help="Folder for copies with boxes and landmarks drawn (same relative paths and format as the inputs).")
MaxPixelsOpt = typer.Option(None, "--max-pixels", min=256, help="Reject images above this many pixels (default 50M, or FACETRUST_MAX_PIXELS).")
CheckOpt = typer.Option(None, "--check", "-c", help="Per-face check: quality, liveness, forgery or attributes (repeatable).")
CheckOptsOpt = typer.Option(None, "--check-opt", help="Check option CHECK.KEY=VALUE, e.g. forgery.model=fusion (repeatable).")


def _config(preset: str | None, detector: str | None, recognizer: str | None, det_opts: list[str] | None,
            rec_opts: list[str] | None, device: str, max_pixels: int | None, checks: list[str] | None = None,
            check_opts: list[str] | None = None) -> Any:
    from facetrust.analyzer import AnalyzerConfig

    return AnalyzerConfig(preset=preset, detector=detector, recognizer=recognizer,
                          detector_options=parse_options(det_opts), recognizer_options=parse_options(rec_opts),
                          device=device, max_pixels=max_pixels, checks=tuple(checks or ()),
                          check_options=parse_check_options(checks, check_opts))


def _run(inputs: list[str], config: Any, embed: bool, as_json: bool, workers: int,
         annotate: Optional[Path], allow_video: bool, video_every: float = 1.0) -> None:
    from facetrust.analyzer import FaceAnalyzer
    from facetrust.cli.report import print_table
    from facetrust.io import expand_inputs, is_video
    from facetrust.parallel import analyze_paths, default_workers, progress_map

    paths = expand_inputs(inputs, allow_video=allow_video)
    images = [p for p in paths if not (allow_video and is_video(p))]
    videos = [p for p in paths if allow_video and is_video(p)]
    analyzer = FaceAnalyzer(config)
    targets: dict[Path, Path] = {}
    if annotate is not None:
        from facetrust.annotate import annotation_targets

        targets = annotation_targets(images, annotate)
    if workers <= 0:
        workers = default_workers() if len(images) >= 8 else 1
    outputs = InputResults()
    results = progress_map(
        analyze_paths(images, config, embed=embed, workers=workers, analyzer=analyzer),
        len(images), "analyzing", enabled=len(images) > 1,
    )
    for result in results:
        if result.error:
            outputs.failed += 1
            typer.echo(f"error: {result.error}", err=True)
            outputs.records.append(result.to_dict(include_embedding=embed))
        elif annotate is not None:
            from facetrust.annotate import save_annotated

            with outputs.item(result.path):
                save_annotated(analyzer.load(result.path), result.faces, targets[result.path])
                outputs.records.append(result.to_dict(include_embedding=embed))
        else:
            outputs.records.append(result.to_dict(include_embedding=embed))
    for video in videos:
        from facetrust.video import analyze_video

        with outputs.item(video):
            outputs.records.append(analyze_video(analyzer, video, every_seconds=video_every, embed=embed,
                                                    progress=True))
    outputs.finish(as_json, print_table)


@app.command()
def detect(
    inputs: list[str] = typer.Argument(..., help="Image files, folders (recursive) or globs."),
    preset: Optional[str] = PresetOpt, detector: Optional[str] = DetectorOpt,
    detector_opt: Optional[list[str]] = DetOptsOpt, device: str = DeviceOpt,
    as_json: bool = JsonOpt, workers: int = WorkersOpt, annotate: Optional[Path] = AnnotateOpt,
    max_pixels: Optional[int] = MaxPixelsOpt,
) -> None:
    """Find faces: box, score and 5 landmarks per face."""
    with user_errors():
        config = _config(preset, detector, None, detector_opt, None, device, max_pixels)
        _run(inputs, config, False, as_json, workers, annotate, allow_video=False)


@app.command()
def analyze(
    inputs: list[str] = typer.Argument(..., help="Images, videos, folders (recursive) or globs."),
    preset: Optional[str] = PresetOpt, detector: Optional[str] = DetectorOpt,
    recognizer: Optional[str] = RecognizerOpt, detector_opt: Optional[list[str]] = DetOptsOpt,
    recognizer_opt: Optional[list[str]] = RecOptsOpt, device: str = DeviceOpt, as_json: bool = JsonOpt,
    workers: int = WorkersOpt, annotate: Optional[Path] = AnnotateOpt, max_pixels: Optional[int] = MaxPixelsOpt,
    every: float = typer.Option(1.0, "--every", min=0.0, help="Seconds between sampled video frames (0 = every frame)."),
    check: Optional[list[str]] = CheckOpt, check_opt: Optional[list[str]] = CheckOptsOpt,
) -> None:
    """Every face with box, landmarks, embedding and the --check results; videos are sampled
    every --every seconds and their faces linked into tracks with one result per check."""
    with user_errors():
        config = _config(preset, detector, recognizer, detector_opt, recognizer_opt, device, max_pixels, check,
                         check_opt)
        _run(inputs, config, True, as_json, workers, annotate, allow_video=True, video_every=every)


@app.command()
def embed(
    inputs: list[str] = typer.Argument(..., help="Image files, folders (recursive) or globs."),
    preset: Optional[str] = PresetOpt, detector: Optional[str] = DetectorOpt,
    recognizer: Optional[str] = RecognizerOpt, detector_opt: Optional[list[str]] = DetOptsOpt,
    recognizer_opt: Optional[list[str]] = RecOptsOpt, device: str = DeviceOpt, as_json: bool = JsonOpt,
    workers: int = WorkersOpt, max_pixels: Optional[int] = MaxPixelsOpt,
) -> None:
    """Face embeddings (L2-normalised) of every face."""
    with user_errors():
        config = _config(preset, detector, recognizer, detector_opt, recognizer_opt, device, max_pixels)
        _run(inputs, config, True, as_json, workers, None, allow_video=False)


@app.command()
def verify(
    image_a: str = typer.Argument(..., help="First image."),
    image_b: str = typer.Argument(..., help="Second image."),
    fmr: float = typer.Option(DEFAULT_FMR, "--fmr", help="False-match rate the decision threshold is set for."),
    select: str = typer.Option("largest", "--select", help="Face to use when several: largest, best, center, an index, "
                               "or best-pair (the most similar of all face pairs; see docs/cli.md on its false-match rate)."),
    preset: Optional[str] = PresetOpt, detector: Optional[str] = DetectorOpt,
    recognizer: Optional[str] = RecognizerOpt, detector_opt: Optional[list[str]] = DetOptsOpt,
    recognizer_opt: Optional[list[str]] = RecOptsOpt, device: str = DeviceOpt, as_json: bool = JsonOpt,
    max_pixels: Optional[int] = MaxPixelsOpt, check: Optional[list[str]] = CheckOpt,
    check_opt: Optional[list[str]] = CheckOptsOpt,
) -> None:
    """Are the faces in two images the same person? Exit status 0 either way; --check results
    (e.g. liveness) are reported for both compared faces."""
    from facetrust.analyzer import FaceAnalyzer

    with user_errors():
        chosen: Any = int(select) if select.lstrip("-").isdigit() else select
        config = _config(preset, detector, recognizer, detector_opt, recognizer_opt, device, max_pixels, check,
                         check_opt)
        result = FaceAnalyzer(config).verify(image_a, image_b, fmr=fmr, select=chosen)
        if as_json:
            print_json({"image_a": image_a, "image_b": image_b, **result.to_dict()})
        else:
            from facetrust.cli.report import check_summary

            verdict = "SAME person" if result.same else "DIFFERENT people"
            typer.echo(f"{verdict}: similarity {result.similarity:.4f}, threshold {result.threshold:.4f} "
                       f"(FMR {result.fmr:g}, {config.recognizer}); faces found: {result.faces_in_a} / {result.faces_in_b}")
            if result.hint:
                typer.echo(f"note: {result.hint}")
            for label, face in (("a", result.face_a), ("b", result.face_b)):
                if face.extras.keys() & set(config.checks):
                    typer.echo(f"face {label}: {check_summary(face.extras)}")


def extract(
    inputs: list[str] = typer.Argument(..., help="Image files, folders (recursive) or globs."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the crops (inputs keep their paths relative to their common folder)."),
    size: int = typer.Option(112, "--size", help="Side of each square crop in pixels (the ArcFace template scaled; 16-4096)."),
    faces: str = typer.Option("all", "--faces", help="Faces to crop: all or largest."),
    image_format: str = typer.Option("png", "--format", help="Crop file format: png, or input (the input's own; PNG for GIF, PGM, PPM, …)."),
    preset: Optional[str] = PresetOpt, detector: Optional[str] = DetectorOpt,
    detector_opt: Optional[list[str]] = DetOptsOpt, device: str = DeviceOpt,
    as_json: bool = JsonOpt, max_pixels: Optional[int] = MaxPixelsOpt,
) -> None:
    """Aligned face crops: each face warped onto the ArcFace template, one file per face
    (OUT/<relative path>/<name>_<i>.png, i = 0 for the largest face)."""
    from facetrust.analyzer import FaceAnalyzer
    from facetrust.extract import extract_files
    from facetrust.io import expand_inputs

    with user_errors():
        config = _config(preset, detector, None, detector_opt, None, device, max_pixels)
        paths = expand_inputs(inputs)
        outputs = InputResults()
        for result in extract_files(FaceAnalyzer(config), paths, out, size=size, faces=faces,  # type: ignore[arg-type]
                                    image_format=image_format, progress=len(paths) > 1):  # type: ignore[arg-type]
            if result.error is not None:
                outputs.failed += 1
                typer.echo(f"error: {result.error}", err=True)
            outputs.records.append(result.to_dict())
    outputs.finish(as_json, _print_crops)


def _print_crops(records: list[dict[str, Any]]) -> None:
    for record in records:
        if "faces" in record:
            crops = [face["crop"] for face in record["faces"]]
            typer.echo(f"{record['path']}: {len(crops)} face(s) -> {', '.join(crops)}")


app.command("extract")(extract)
app.command("crop", help="Same as `facetrust extract`: aligned face crops, one file per face.")(extract)


@app.command()
def demo(as_json: bool = JsonOpt) -> None:
    """Analyze the astronaut photo that ships with scikit-image, then verify it
    against matplotlib's Grace Hopper: the default preset's models ship in the package, nothing to download."""
    from facetrust.analyzer import FaceAnalyzer
    from facetrust.examples import example_image

    with user_errors():
        astronaut, hopper = example_image("astronaut"), example_image("grace_hopper")
        analyzer = FaceAnalyzer()
        faces = analyzer.analyze(astronaut)
        result = analyzer.verify(astronaut, hopper)
        record = {"path": str(astronaut), "faces": [f.to_dict(include_embedding=False) for f in faces],
                  "verify": {"image_a": str(astronaut), "image_b": str(hopper), **result.to_dict()}}
        if as_json:
            print_json(record)
            return
        from facetrust.cli.report import print_table

        print_table([record])
        verdict = "same person" if result.same else "different people"
        typer.echo(f"astronaut vs grace_hopper: {verdict} (similarity {result.similarity:.3f}, "
                   f"threshold {result.threshold:.3f} at FMR {result.fmr:g})")


@app.command()
def info(as_json: bool = JsonOpt) -> None:
    """Versions, execution devices and model locations."""
    import facetrust
    from facetrust.runtime import available_devices
    from facetrust.zoo.store import cache_dir, model_dir

    data = {
        "facetrust": facetrust.__version__,
        "onnx_devices": available_devices(),
        "model_dir": str(model_dir()) if model_dir() else None,
        "cache_dir": str(cache_dir()),
    }
    if as_json:
        print_json(data)
    else:
        for key, value in data.items():
            typer.echo(f"{key}: {value}")


def main() -> None:
    """Console-script entry point: usage errors (a bad option value, a missing argument)
    become one ``error:`` line and exit status 2, like every other error."""
    # Python warnings (a model's licence, a library's notice) as one line each, not two.
    warnings.formatwarning = lambda message, category, *_args, **_kwargs: f"warning: {message}\n"
    # Typer's own copy of click or click itself, whichever this Typer uses.
    usage_error, click_exception = typer.BadParameter.__mro__[1:3]
    try:
        code = app(standalone_mode=False)
    except usage_error as exc:
        if type(exc).__name__ == "NoArgsIsHelpError" and exc.ctx is not None:
            typer.echo(exc.ctx.get_help())
        else:
            where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            typer.echo(f"error: {' '.join(exc.format_message().split())}{where}", err=True)
        code = exc.exit_code
    except click_exception as exc:
        typer.echo(f"error: {' '.join(exc.format_message().split())}", err=True)
        code = exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("interrupted", err=True)
        code = 130
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()


