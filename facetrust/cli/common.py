"""Option parsing and error reporting shared by the CLI commands."""
from __future__ import annotations

import json
import math
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import typer

from facetrust.errors import ConfigError, FacetrustError

#: ``--preset`` of every command that takes --detector / --recognizer (those override the preset's).
PresetOpt = typer.Option(None, "--preset", help="Detector + recognizer preset: fast, balanced (default), accurate, "
                                                      "accurate-nc, dlib (see `facetrust models list`).")


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


def _plain(value: Any) -> Any:
    """numpy scalars and arrays, paths and sets as JSON values; NaN and infinity as null."""
    if hasattr(value, "tolist"):  # numpy scalar or array
        return _plain(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in (sorted(value, key=str) if isinstance(value, (set, frozenset)) else value)]
    return value


def _is_flat(value: Any) -> bool:
    """A vector (embedding, box) or a list of short vectors (landmarks): printed on one line."""
    return isinstance(value, list) and all(
        not isinstance(v, (dict, list)) or (isinstance(v, list) and len(v) <= 4 and _is_flat(v)) for v in value)


def _pretty(value: Any, indent: int, depth: int) -> str:
    if isinstance(value, dict) and value:
        inner = " " * (indent * (depth + 1))
        items = [f"{inner}{json.dumps(k)}: {_pretty(v, indent, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * (indent * depth) + "}"
    if isinstance(value, list) and value and not _is_flat(value):
        inner = " " * (indent * (depth + 1))
        items = [inner + _pretty(v, indent, depth + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + " " * (indent * depth) + "]"
    return json.dumps(value)


def format_json(data: Any, indent: int | None = None) -> str:
    """JSON text of a command's result. Default: compact, one line per record (each element of a
    top-level list, each key of a top-level object). ``indent``: pretty-printed with that many
    spaces, vectors such as embeddings, boxes and landmarks still on one line each. Non-ASCII
    text is escaped, so hostile names cannot reorder or hide what a terminal shows."""
    data = _plain(data)
    if indent is not None:
        return _pretty(data, indent, 0)
    if isinstance(data, list) and data:
        return "[\n" + ",\n".join(json.dumps(v) for v in data) + "\n]"
    if isinstance(data, dict) and data:
        return "{\n" + ",\n".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in data.items()) + "\n}"
    return json.dumps(data)


#: ``--indent`` of the current invocation (set by the root command; None = compact).
json_indent: int | None = None


def print_json(data: Any) -> None:
    """Print a command's ``--json`` result in the shape ``facetrust --indent N`` asks for."""
    sys.stdout.write(format_json(data, json_indent) + "\n")
