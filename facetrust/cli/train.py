"""``facetrust train``: training recognition models (see docs/training.md)."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Optional

import typer

from facetrust.cli.common import fail, print_json, user_errors

app = typer.Typer(help="Train recognition models (needs the train extra: pip install 'facetrust\\[train]').", no_args_is_help=True)


class _FORGET:
    """ForgetOptions' defaults, repeated here so that --help needs no torch (a test keeps them equal)."""

    steps, rank, lr, batch_size, identities_per_batch = 200, 8, 5e-3, 48, 4
    retain_weight, last_layers, group_sparsity = 5.0, 8, 1e-4
    margin, pair_margin, mirror_forgotten = -0.2, None, False


@app.command()
def recognizer(
    config: str = typer.Argument(..., help="Config file (TOML; may extend another) or a built-in name: base, partial_fc, finetune_mobilefacenet."),
    overrides: Optional[list[str]] = typer.Option(None, "--set", help="Override a config key: KEY=VALUE (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
) -> None:
    """Train a recognition backbone with a margin head; Ctrl-C saves a checkpoint (resume with --set resume=true)."""
    with user_errors():
        try:
            from facetrust.training.config import load_config
            from facetrust.training.trainer import train_recognizer
        except ImportError as exc:
            from facetrust.errors import ConfigError

            raise ConfigError(f"training needs the [train] extra (pip install 'facetrust[train]'): {exc}") from None
        result = train_recognizer(load_config(config, overrides or ()))
        record = {"steps": result.steps, "checkpoint": str(result.checkpoint), "identities": len(result.identities),
                  "last_loss": result.losses[-1] if result.losses else None, "data": asdict(result.data)}
        if as_json:
            print_json(record)
        else:
            typer.echo(f"data: {result.data.summary()}")
            typer.echo(f"trained to step {result.steps} on {len(result.identities)} identities; "
                       f"last loss {record['last_loss']}; checkpoint {result.checkpoint}")


@app.command()
def export(
    checkpoint: Path = typer.Argument(..., help="checkpoint.pt written by `facetrust train recognizer`."),
    output: Path = typer.Argument(..., help="ONNX file to write."),
    register: Optional[str] = typer.Option(None, "--register", help="Also register it as the local recognizer NAME "
                                           "(then --recognizer NAME works in verify, gallery and eval)."),
    calibrate_on: Optional[Path] = typer.Option(None, "--calibrate-on", help="With --register: data its thresholds "
                                                "are calibrated on: a folder of identity folders (all cross-identity "
                                                "pairs) or a pair list (LFW pairs.txt or a path_a,path_b,same CSV)."),
    pairs_root: Optional[Path] = typer.Option(None, "--pairs-root", help="Image folder of an LFW pairs.txt "
                                              "(default: lfw/ beside it)."),
    replace: bool = typer.Option(False, "--replace", help="Replace a local model already registered as NAME."),
    licence: Optional[str] = typer.Option(None, "--license", help="With --register: the model's licence, as you "
                                          "state it (default: not stated)."),
    commercial_use: bool = typer.Option(False, "--commercial-use", help="With --register: you state that it may be "
                                        "used commercially (else loading it warns)."),
    workers: int = typer.Option(1, "--workers", "-w", help="Worker processes for the calibration's embeddings."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
) -> None:
    """Export the trained backbone to ONNX (input: RGB 0-255 ArcFace-aligned 112x112 crops, NCHW),
    optionally registered as a local recognizer with calibrated thresholds."""
    with user_errors():
        from facetrust.training.export import export_onnx, export_registered

        if register is None:
            if calibrate_on is not None:
                fail("--calibrate-on needs --register NAME")
            typer.echo(f"wrote {export_onnx(checkpoint, output)}")
            return
        if calibrate_on is None:
            fail("--register needs --calibrate-on (the data its thresholds are calibrated on)")
        done = export_registered(checkpoint, output, register, calibrate_on, pairs_root=pairs_root, replace=replace,
                                 license=licence, commercial_use=commercial_use, workers=workers)
        record = {"name": done.name, "onnx": str(done.onnx), "sha256": done.sha256, "manifest": str(done.manifest),
                  "calibration": done.calibration}
        if as_json:
            print_json(record)
        else:
            low = done.calibration["fmr"][0]
            typer.echo(f"wrote {done.onnx}; registered {done.name!r} in {done.manifest}; thresholds at FMR "
                       f"{low:g} to {done.calibration['fmr'][-1]:g} from {done.calibration['dataset']}")


@app.command()
def forget(
    checkpoint: Path = typer.Argument(..., help="checkpoint.pt written by `facetrust train recognizer`."),
    identities: str = typer.Option(..., "--identities", help="Identity folder names to forget: comma-separated, or @FILE with one per line."),
    output: Path = typer.Option(..., "--out", help="Folder for the merged checkpoint.pt and adapter.pt (not the original's)."),
    data: Optional[Path] = typer.Option(None, "--data", help="Training folder (default: the checkpoint's own)."),
    steps: int = typer.Option(_FORGET.steps, help="Optimiser steps."),
    rank: int = typer.Option(_FORGET.rank, help="LoRA rank."),
    lr: float = typer.Option(_FORGET.lr, help="Learning rate of the adapters (cosine decay to 0)."),
    batch_size: int = typer.Option(_FORGET.batch_size, help="Images per step (half forgotten, half retained)."),
    identities_per_batch: int = typer.Option(_FORGET.identities_per_batch, help="Forgotten identities per step."),
    retain_weight: float = typer.Option(_FORGET.retain_weight, help="Weight of the retained images' distillation."),
    last_layers: int = typer.Option(_FORGET.last_layers, help="Adapt only the last N dense layers (0: all)."),
    group_sparsity: float = typer.Option(_FORGET.group_sparsity, help="Weight of the group-sparsity penalty."),
    margin: float = typer.Option(_FORGET.margin, help="Push forgotten images' cosine to their template below this."),
    pair_margin: Optional[float] = typer.Option(_FORGET.pair_margin, help="Push the cosine between two images of one forgotten person below this (default: --margin)."),
    mirror_forgotten: bool = typer.Option(_FORGET.mirror_forgotten, "--mirror-forgotten", help="Also train on mirrored copies of the forgotten people's images."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
) -> None:
    """Make a trained model forget identities (LoRA adapters, group-sparse, merged into the weights)."""
    with user_errors():
        from facetrust.training.unlearning import ForgetOptions, forget_identities, read_identity_list

        result = forget_identities(checkpoint, read_identity_list(identities), output, data,
                                   ForgetOptions(rank=rank, steps=steps, lr=lr, batch_size=batch_size,
                                                 identities_per_batch=identities_per_batch,
                                                 retain_weight=retain_weight, last_layers=last_layers,
                                                 group_sparsity=group_sparsity, margin=margin,
                                                 pair_margin=pair_margin, mirror_forgotten=mirror_forgotten))
        record = {"checkpoint": str(result.checkpoint), "adapter": str(result.adapter),
                  "forgotten": result.forgotten, "steps": result.steps, "seconds": round(result.seconds, 1),
                  "adapter_parameters": result.adapter_parameters, "adapter_bytes": result.adapter_bytes,
                  "adapted_layers": result.adapted_layers, "active_layers": result.active_layers,
                  "last_losses": result.losses[-1] if result.losses else None}
        if as_json:
            print_json(record)
        else:
            typer.echo(f"forgot {len(result.forgotten)} identities in {result.steps} steps ({record['seconds']} s); "
                       f"adapters: {result.adapter_parameters} parameters in {result.active_layers}/"
                       f"{result.adapted_layers} layers; merged checkpoint {result.checkpoint}")
