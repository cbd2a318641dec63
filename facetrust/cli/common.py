"""Option parsing and error reporting shared by the CLI commands."""
from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import typer

from facetrust.errors import ConfigError, FacetrustError


def parse_options(pairs: list[str] | None) -> dict[str, Any]:
    """``KEY=VALUE`` strings to a dict; values are JSON when they parse as JSON."""
    options: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"option {pair!r} must look like KEY=VALUE")
        try:
            options[key] = json.loads(value)
        except (ValueError, RecursionError):  # not JSON, a 5,000-digit number, "[[[[…" nested too deep
            options[key] = value
    return options


def parse_check_options(checks: list[str] | None, pairs: list[str] | None) -> dict[str, dict[str, Any]]:
    """``NAME.KEY=VALUE`` strings (e.g. ``forgery.model=fusion``) to per-check option dicts."""
    options: dict[str, dict[str, Any]] = {}
    for pair in pairs or []:
        name, dot, rest = pair.partition(".")
        if not dot or not name:
            raise ConfigError(f"check option {pair!r} must look like CHECK.KEY=VALUE, e.g. forgery.model=fusion")
        if name not in (checks or []):
            raise ConfigError(f"check option {pair!r} is for {name!r}, which is not enabled with --check {name}")
        options.setdefault(name, {}).update(parse_options([rest]))
    return options


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn facetrust errors into one readable line and a non-zero exit."""
    try:
        yield
    except FacetrustError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(130) from None


class InputResults:
    """Per-input records of a multi-input command. An input that fails with a facetrust
    error is reported on stderr, recorded as ``{"path", "error"}`` and skipped; the others
    go on, and :meth:`finish` exits 1 when any failed."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.failed = 0

    @contextmanager
    def item(self, path: Path | str) -> Iterator[None]:
        try:
            yield
        except FacetrustError as exc:
            self.failed += 1
            typer.echo(f"error: {exc}", err=True)
            self.records.append({"path": str(path), "error": str(exc)})

    def finish(self, as_json: bool, print_table: Callable[[list[dict[str, Any]]], None]) -> None:
        if as_json:
            print_json(self.records)
        else:
            print_table(self.records)
        if self.failed:
            raise typer.Exit(1)


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=1)
    sys.stdout.write("\n")
