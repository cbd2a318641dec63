"""``facetrust models``: list, fetch and verify model-zoo files."""
from __future__ import annotations

from typing import Optional

import typer

from facetrust.cli.common import fail, print_json, user_errors

app = typer.Typer(help="The model zoo: list, fetch, verify checksums.", no_args_is_help=True)


def _status(name: str) -> str:
    from facetrust.zoo import get_model, verify_model

    if not get_model(name).files:
        return "built-in"
    states = {status for _, status in verify_model(name)}
    return "MISMATCH" if "MISMATCH" in states else "missing" if "missing" in states else "ok"


@app.command("list")
def list_(task: Optional[str] = typer.Option(None, help="Only this task (detection, recognition, …)."),
          as_json: bool = typer.Option(False, "--json")) -> None:
    """Every model with task, licence, and whether its files are present and intact; then the presets
    (--json: the models only; `facetrust models presets --json` has the presets)."""
    from rich.console import Console
    from rich.table import Table

    from facetrust.zoo import list_models

    models = list_models(task)
    rows = [{"name": m.name, "task": m.task, "license": m.license, "commercial_use": m.commercial_use,
             "embedded": m.embedded, "status": _status(m.name), "input": m.input} for m in models]
    if as_json:
        print_json(rows)
        return
    table = Table("name", "task", "licence", "source", "status")
    for row in rows:
        licence = row["license"] if row["commercial_use"] else f"[yellow]{row['license']}[/yellow]"
        table.add_row(row["name"], row["task"], licence, "pip package" if row["embedded"] else "zoo", row["status"])
    Console().print(table)
    if task is None:
        _print_presets()


@app.command()
def presets(as_json: bool = typer.Option(False, "--json")) -> None:
    """The presets (--preset NAME): detector, recognizer, what each is for, and whether every model
    it loads is licensed for commercial use."""
    from facetrust.presets import PRESETS

    if as_json:
        print_json([p.to_dict() for p in PRESETS.values()])
    else:
        _print_presets()


def _print_presets() -> None:
    from rich.console import Console
    from rich.table import Table

    from facetrust.presets import PRESETS

    table = Table("preset", "detector", "recognizer", "commercial use", "for", title="Presets (--preset NAME)")
    for preset in PRESETS.values():
        data = preset.to_dict()
        name = f"{preset.name} (default)" if data["default"] else preset.name
        clean = "yes" if data["commercial_use"] else "[yellow]NO (non-commercial model)[/yellow]"
        # liveness / forgery read another detector's faces under this preset (docs/detection.md)
        detector = f"{preset.detector} (checks: {preset.check_detector})" if preset.check_detector else preset.detector
        table.add_row(name, detector, preset.recognizer, clean, preset.purpose)
    Console().print(table)


@app.command()
def fetch(names: list[str] = typer.Argument(None, help="Model names (default: all).")) -> None:
    """Download models into the cache (or find them in FACETRUST_MODEL_DIR), verifying sha256."""
    from facetrust.zoo import fetch_model, list_models

    with user_errors():
        for name in names or [m.name for m in list_models() if m.files]:
            for path in fetch_model(name):
                typer.echo(f"{name}: {path}")


@app.command()
def verify(names: list[str] = typer.Argument(None, help="Model names (default: all).")) -> None:
    """Check the sha256 of every local model file. Exit 1 when a file does not match the
    manifest, or when not one model-zoo file is present (a wrong FACETRUST_MODEL_DIR); zoo
    files that are missing while others are present are fine (fetched on first use)."""
    from facetrust.zoo import get_model, list_models, verify_model
    from facetrust.zoo.store import cache_dir, model_dir

    statuses: list[str] = []
    zoo_present = zoo_files = 0
    with user_errors():
        for name in names or [m.name for m in list_models()]:
            for file, (path, status) in zip(get_model(name).files, verify_model(name)):
                typer.echo(f"{status:8s} {name}: {path}")
                statuses.append(status)
                if not file.package:  # files inside a pip package are not the zoo's
                    zoo_files += 1
                    zoo_present += status != "missing"
    bad = statuses.count("MISMATCH")
    if bad:
        fail(f"{bad} file(s) do not match the manifest's sha256")
    if zoo_files and not zoo_present:
        fail(f"none of the {zoo_files} model-zoo file(s) is present (FACETRUST_MODEL_DIR={model_dir() or 'unset'}, "
             f"cache {cache_dir()}): `facetrust models fetch NAME` downloads one")
    typer.echo(f"{statuses.count('ok')} ok, {statuses.count('missing')} missing (fetched on first use)", err=True)


@app.command()
def remove(name: str = typer.Argument(..., help="A model registered on this machine (facetrust train export --register).")) -> None:
    """Remove a locally registered model from the local manifest (its ONNX file is left where it is)."""
    from facetrust.zoo.local import local_manifest_path, remove_local_model

    with user_errors():
        remove_local_model(name)
        typer.echo(f"removed {name!r} from {local_manifest_path()}")
