"""``facetrust privacy`` (keys, rekey) and ``facetrust eval protection``: thin layers over facetrust.privacy."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from facetrust.cli.common import PresetOpt, print_json, user_errors

app = typer.Typer(help="Template protection keys and protected galleries.", no_args_is_help=True)

KeyFileOpt = typer.Option(None, "--key", help="Key file (default: $FACETRUST_PRIVACY_KEY).")


@app.command()
def keygen(path: Path = typer.Argument(..., help="Key file to write (mode 0600)."),
           force: bool = typer.Option(False, "--force", help="Replace an existing key file.")) -> None:
    """Generate a key with the operating system's CSPRNG and print its fingerprint."""
    from facetrust.privacy import ProtectionKey, save_key

    with user_errors():
        key = ProtectionKey.generate()
        save_key(key, path, overwrite=force)
        typer.echo(key.fingerprint)


@app.command()
def fingerprint(key: Optional[Path] = typer.Argument(None, help="Key file (default: $FACETRUST_PRIVACY_KEY).")) -> None:
    """Print the fingerprint of a key (galleries record it and refuse other keys)."""
    from facetrust.privacy import load_key

    with user_errors():
        typer.echo(load_key(key).fingerprint)


@app.command()
def rekey(
    source: str = typer.Argument(..., help="The protected gallery to renew."),
    target: str = typer.Argument(..., help="The new gallery (same scheme, new key)."),
    images: Path = typer.Option(..., "--images", help="Re-enrolment images: one sub-folder per identity."),
    key: Optional[Path] = KeyFileOpt,
    new_key: Path = typer.Option(..., "--new-key", help="Key file of the new key; issued (mode 0600) when it does not exist."),
    workers: int = typer.Option(1, "--workers", "-w", help="Worker processes for the images."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Renew a protected gallery: re-enrol it under a new key (protected templates cannot be converted)."""
    from facetrust.privacy.rekey import issue_key, rekey_gallery

    with user_errors():
        if not new_key.exists():
            typer.echo(f"issued new key {issue_key(new_key).fingerprint} in {new_key}", err=True)
        report = rekey_gallery(source, target, images, key, new_key, workers=workers, progress=not as_json)
    if as_json:
        print_json(report.to_dict())
    else:
        typer.echo(f"{len(report.enrolled)} identities under key {report.key_fingerprint}; "
                   f"not re-enrolled: {', '.join(report.not_reenrolled) or 'none'}")


def protection(
    root: Path = typer.Option(..., "--root", help="LFW image folder (one folder per person)."),
    pairs: Path = typer.Option(..., "--pairs", help="The View-2 pairs.txt."),
    # calibration.json covers dlib-resnet, mobilefacenet, edgeface-xs, w600k-mbf and the accurate /
    # accurate-nc fusions (docs/privacy.md); the default preset stays dlib for reruns of the earliest numbers.
    preset: str = typer.Option("dlib", "--preset", help="Preset of the main configuration."),
    detector: Optional[str] = typer.Option(None, "--detector", "-d", help="Detector of the main configuration (default: the preset's)."),
    recognizer: Optional[str] = typer.Option(None, "--recognizer", "-r", help="Recognizer of the main configuration (default: the preset's)."),
    compare: Optional[list[str]] = typer.Option(None, "--compare", help="Extra configuration DETECTOR:RECOGNIZER (repeatable)."),
    scheme: Optional[list[str]] = typer.Option(None, "--scheme", help="Protection scheme (repeatable; default all)."),
    keys: int = typer.Option(20, "--keys", help="Test keys each verification figure is averaged over (worst key reported too)."),
    workers: int = typer.Option(0, "--workers", "-w", help="Worker processes for embedding (0 = one per core)."),
    report: Optional[Path] = typer.Option(None, "--report", help="Folder for protection.json and the plot."),
    cache: Optional[Path] = typer.Option(None, "--cache", help="Embedding cache file (default ~/.cache/facetrust/embeddings.sqlite)."),
    as_json: bool = typer.Option(False, "--json", help="Print the full result as JSON on stdout."),
) -> None:
    """Template protection on LFW View 2: accuracy and TAR@FAR=1e-3 unprotected vs protected,
    unlinkability D<->sys, irreversibility, renewability, cost (parameters chosen on folds 1-5, reported on 6-10)."""
    from facetrust.cli.evaluate import _models, _workers
    from facetrust.evaluation.cache import EmbeddingCache
    from facetrust.evaluation.lfw import LFW_FALLBACK_BOX, read_lfw_pairs
    from facetrust.privacy import PROTECTIONS
    from facetrust.privacy.report import evaluate_protection

    with user_errors():
        schemes = scheme or PROTECTIONS.names()
        for name in schemes:
            PROTECTIONS.get_class(name)
        pair_list = read_lfw_pairs(pairs, root)
        models = _models(detector, recognizer, compare, LFW_FALLBACK_BOX, preset)
        with EmbeddingCache(cache) as store:
            result = evaluate_protection(pair_list, models, store, schemes, keys=keys, workers=_workers(workers),
                                         report=report)
    if as_json:
        print_json(result)
    else:
        _print(result)


def _print(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Template protection, LFW View 2 folds 6-10")
    for column in ("configuration", "scheme", "params", "accuracy", "TAR@1e-3", "D<->sys", "renew. AUC",
                   "inversion success (ridge/MLP)"):
        table.add_column(column)

    def pct(value: Any) -> str:
        return "n/a" if value is None else f"{100 * value:.2f}%"

    for label, entry in result["configurations"].items():
        plain = entry["unprotected"]
        table.add_row(label, "none", "", pct(plain["accuracy"]), pct(plain["tar_at_far_1e-3"]), "", "", "")
        for name, m in entry["schemes"].items():
            attack = m.get("irreversibility")
            inversion = "" if attack is None else (f"{pct(attack['ridge']['success_other_key'])} / "
                                                   f"{pct(attack['mlp']['success_other_key'])}")
            table.add_row("", name, str(m["params"]), pct(m["accuracy"]), pct(m["tar_at_far_1e-3"]),
                          f"{m['unlinkability_d_sys']:.3f}", f"{m['renewability_auc']:.3f}", inversion)
    Console().print(table)
    if "plot" in result:
        typer.echo(f"plot: {result['plot']}", err=True)


def anonymize(
    inputs: list[str] = typer.Argument(..., help="Images and videos (files, folders, globs)."),
    out: Path = typer.Option(..., "--out", help="Folder for the anonymised copies (same file names; videos as .mp4)."),
    method: str = typer.Option("blur", "--method", help="blur, pixelate or mask."),
    margin: float = typer.Option(0.25, "--margin", help="Added around each face box, as a fraction of its size."),
    preset: Optional[str] = PresetOpt,
    detector: Optional[list[str]] = typer.Option(
        None, "--detector", "-d",
        help="Face detector (default: the preset's); repeat it to anonymise the faces any of them finds."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Blur, pixelate or mask every detected face; in videos, every frame's faces, with face tracks
    covering frames where the detector misses a face (docs/privacy.md)."""
    from facetrust.analyzer import FaceAnalyzer
    from facetrust.io import expand_inputs
    from facetrust.privacy.anonymize import anonymize_files

    with user_errors():
        paths = expand_inputs(inputs, allow_video=True)
        first, *others = detector or [None]
        report = anonymize_files(paths, out, FaceAnalyzer(preset=preset, detector=first), method, margin,
                                 progress=not as_json,
                                 extra_detectors=[FaceAnalyzer(preset=preset, detector=name) for name in others])
    if as_json:
        print_json(report.to_dict())
    else:
        for target, faces in report.written.items():
            video = report.videos.get(target)
            typer.echo(f"{target}: {faces} face(s)" if video is None else
                       f"{target}: {video['frames']} frames, {faces} face track(s), {video['detected_boxes']} "
                       f"faces detected + {video['added_boxes']} covered by the tracks")
    for path, reason in report.failed.items():
        typer.echo(f"error: {reason}" if reason.startswith(path) else f"error: {path}: {reason}", err=True)
    if report.failed:
        raise typer.Exit(1)
