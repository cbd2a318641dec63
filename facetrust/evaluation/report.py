"""Evaluation reports: ``report.json``, ``report.md`` and ``report.html`` in one folder.

The writer is generic over the result dict. Known top-level keys:

* ``protocol`` (str): the report title;
* ``configuration`` (dict): one column per configuration when every value is a dict
  (``{label: {detector: .., recognizer: ..}}``), else a key/value table;
* ``metrics`` (dict): one column per configuration when every value is a dict
  (``{label: {accuracy: .., tar_at_far: {"0.01": ..}}}``), else a key/value table;
  nested dicts are flattened into dotted row names (``tar_at_far.0.01``);
* ``notes`` (list of str): a bullet list.

Any other scalar keys go into a "Run" table, other dict keys into a table of their own.

A report opens with its **headline**: a few :class:`HeadlineRow` s (accuracy ± std, TAR at
FAR, EER, thresholds, speed, …) with the configurations side by side, then the legend of
"–" (not applicable or not measured: the JSON's ``null``), the plots, and the full detail
tables.
Plots are referenced by paths relative to the report folder, so the folder can be
moved or archived as a whole. Every file is written atomically (temporary file in
the same folder, then ``os.replace``).
"""
from __future__ import annotations

import html
import json
import math
import os
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import quote

import numpy as np

from facetrust.io.atomic import atomic_file

JSON_NAME, MD_NAME, HTML_NAME = "report.json", "report.md", "report.html"
_SPECIAL = ("protocol", "configuration", "metrics", "notes")

Table = tuple[list[str], list[list[str]]]  # header, rows

#: What "–" in a table means; reports may add the reasons that apply to them.
DASH_LEGEND = "“–”: not applicable or not measured for that configuration (null in report.json)."


@dataclass(frozen=True)
class HeadlineRow:
    """One row of a headline table: a caption and how to read its value from one configuration's
    metrics (None, or a missing entry, shows as "–")."""

    caption: str
    value: Callable[[Mapping[str, Any]], Any]


def metric(path: str) -> Callable[[Mapping[str, Any]], Any]:
    """Read a "/"-separated path (``tar_at_far/0.001``) from a configuration's metrics."""
    def read(metrics: Mapping[str, Any]) -> Any:
        value: Any = metrics
        for part in path.split("/"):
            value = value.get(part) if isinstance(value, Mapping) else None
        return value
    return read


def plus_minus(mean: str, spread: str) -> Callable[[Mapping[str, Any]], Any]:
    """``0.9867 ± 0.0090`` from two metric paths; "–" when the mean is missing."""
    def read(metrics: Mapping[str, Any]) -> Any:
        centre, width = metric(mean)(metrics), metric(spread)(metrics)
        if centre is None:
            return None
        return _format(centre) if width is None else f"{_format(centre)} ± {_format(width)}"
    return read


def headline_rows(rows: Sequence[tuple[str, str]]) -> list[HeadlineRow]:
    """Rows from (caption, metric path) pairs."""
    return [HeadlineRow(caption, metric(path)) for caption, path in rows]


def headline_table(metrics: Mapping[str, Mapping[str, Any]], rows: Sequence[HeadlineRow]) -> Table:
    """One column per configuration, one row per headline value."""
    header = ["metric", *[str(label) for label in metrics]]
    body = [[row.caption, *[_format(row.value(entry)) for entry in metrics.values()]] for row in rows]
    return header, body


# --------------------------------------------------------------------------- helpers


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _write_atomic(path: Path, text: str) -> Path:
    with atomic_file(path, "w", encoding="utf-8", newline="\n") as stream:
        stream.write(text)
        stream.flush()
        os.fsync(stream.fileno())
    return path


def _format(value: Any) -> str:
    """One table cell."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value == 0 or 1e-3 <= abs(value) < 1e4:
            return f"{value:.4f}"
        return f"{value:.4g}"
    if isinstance(value, (list, tuple, np.ndarray)):
        items = list(value)
        if len(items) <= 20 and all(not isinstance(i, (dict, list, tuple)) for i in items):
            return "[" + ", ".join(_format(i) for i in items) + "]"
        return f"({len(items)} items, see report.json)"
    if isinstance(value, Mapping):
        return "{}" if not value else "; ".join(f"{key}: {_format(item)}" for key, item in value.items())
    return str(value)


def _flatten(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.extend(_flatten(value, f"{name}."))
        else:
            out.append((name, value))
    return out


def _all_dicts(data: Any) -> bool:
    return isinstance(data, Mapping) and bool(data) and all(isinstance(v, Mapping) for v in data.values())


def _key_value_table(data: Mapping[str, Any]) -> Table:
    return ["name", "value"], [[key, _format(value)] for key, value in _flatten(data)]


def _columns_per_entry(data: Mapping[str, Mapping[str, Any]], first: str) -> Table:
    """One column per entry (configuration), one row per flattened field."""
    flat = {label: dict(_flatten(fields)) for label, fields in data.items()}
    names = list(dict.fromkeys(k for fields in flat.values() for k in fields))
    rows = [[name] + [_format(flat[label].get(name)) for label in flat] for name in names]
    return [first] + [str(label) for label in flat], rows


def _sections(result: Mapping[str, Any]) -> list[tuple[str, Table]]:
    sections: list[tuple[str, Table]] = []
    run = {k: v for k, v in result.items() if k not in _SPECIAL and not isinstance(v, Mapping)}
    if run:
        sections.append(("Run", _key_value_table(run)))
    configuration = result.get("configuration")
    if isinstance(configuration, Mapping) and configuration:
        table = (_columns_per_entry(configuration, "setting") if _all_dicts(configuration)
                 else _key_value_table(configuration))
        sections.append(("Configuration", table))
    metrics = result.get("metrics")
    if isinstance(metrics, Mapping) and metrics:
        table = _columns_per_entry(metrics, "metric") if _all_dicts(metrics) else _key_value_table(metrics)
        sections.append(("Metrics", table))
    for key, value in result.items():
        if key not in _SPECIAL and isinstance(value, Mapping) and value:
            sections.append((key.replace("_", " ").capitalize(), _key_value_table(value)))
    return sections


def _relative_src(path: Path, out_dir: Path) -> str:
    try:
        relative = Path(os.path.relpath(Path(path).resolve(), out_dir.resolve())).as_posix()
    except ValueError:  # another drive (Windows): no relative path exists
        return Path(path).resolve().as_uri()
    return quote(relative)


def _notes(result: Mapping[str, Any]) -> list[str]:
    notes = result.get("notes") or []
    if isinstance(notes, str):
        return [notes]
    return [str(n) for n in notes]


# --------------------------------------------------------------------------- Markdown


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_table(table: Table) -> list[str]:
    header, rows = table
    lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return lines


@dataclass(frozen=True)
class _Document:
    """What both renderings show, in order."""

    title: str
    summary: Table | None
    legend: list[str]
    images: list[tuple[str, str]]
    sections: list[tuple[str, Table]]
    notes: list[str]


def _markdown(doc: _Document) -> str:
    lines = [f"# {doc.title}", ""]
    if doc.summary is not None:
        lines += ["## Summary", "", *_md_table(doc.summary), ""]
    lines += [*[f"{_md_cell(line)}  " for line in doc.legend], ""]
    if doc.images:
        lines += ["## Plots", ""]
        for name, src in doc.images:
            lines += [f"### {name}", "", f"![{name}]({src})", ""]
    for title, table in doc.sections:
        lines += [f"## {title}", "", *_md_table(table), ""]
    if doc.notes:
        lines += ["## Notes", "", *[f"- {_md_cell(n)}" for n in doc.notes], ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- HTML

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 72em;
       padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f2f2f2; }
figure { display: inline-block; margin: 0.5em 1em 1em 0; }
figcaption { text-align: center; font-size: 0.9em; color: #555; }
img { max-width: 100%; border: 1px solid #ddd; }
table.summary { font-size: 1em; }
table.summary td:first-child { font-weight: 600; }
p.legend { color: #555; font-size: 0.9em; margin: 0.2em 0; }
"""


def _html_table(table: Table, css_class: str | None = None) -> str:
    header, rows = table
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "\n".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    attribute = f' class="{css_class}"' if css_class else ""
    return f"<table{attribute}>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _html(doc: _Document) -> str:
    title = html.escape(doc.title)
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             f"<title>{title}</title>", f"<style>{_CSS}</style>", "</head>", "<body>", f"<h1>{title}</h1>"]
    if doc.summary is not None:
        parts += ["<h2>Summary</h2>", _html_table(doc.summary, "summary")]
    parts += [f'<p class="legend">{html.escape(line)}</p>' for line in doc.legend]
    if doc.images:
        parts.append("<h2>Plots</h2>")
        for name, src in doc.images:
            parts.append(f'<figure><img src="{html.escape(src)}" alt="{html.escape(name)}">'
                         f"<figcaption>{html.escape(name)}</figcaption></figure>")
    for name, table in doc.sections:
        parts += [f"<h2>{html.escape(name)}</h2>", _html_table(table)]
    if doc.notes:
        parts += ["<h2>Notes</h2>", "<ul>", *[f"<li>{html.escape(n)}</li>" for n in doc.notes], "</ul>"]
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


# --------------------------------------------------------------------------- entry point


def write_report(result: Mapping[str, Any], out_dir: str | os.PathLike[str],
                 plots: Mapping[str, str | os.PathLike[str]] | None = None, *,
                 headline: Sequence[HeadlineRow] | None = None, title: str | None = None,
                 legend: Sequence[str] = ()) -> tuple[Path, Path, Path]:
    """Write report.json (the full result, indent=1), report.md and report.html into ``out_dir``.

    ``headline`` rows make the summary table at the top (configurations side by side, from
    ``result["metrics"]``); ``legend`` lines add report-specific reasons for "–" after the
    general one. ``plots`` maps a caption to a PNG path (normally inside ``out_dir``); the
    Markdown and HTML embed them by relative path. Returns (json_path, md_path, html_path).
    numpy scalars/arrays and paths in ``result`` are converted for JSON.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=1, default=_json_default) + "\n"
    metrics = result.get("metrics")
    summary = headline_table(metrics, headline) if headline and _all_dicts(metrics) else None
    doc = _Document(
        title=title or f"Evaluation report: {result.get('protocol', 'evaluation')}",
        summary=summary,
        legend=[DASH_LEGEND, *legend],
        images=[(str(name), _relative_src(Path(path), out_dir)) for name, path in (plots or {}).items()],
        sections=[(name if summary is None else f"Details: {name.lower()}", table)
                  for name, table in _sections(result)],
        notes=_notes(result),
    )
    json_path = _write_atomic(out_dir / JSON_NAME, text)
    md_path = _write_atomic(out_dir / MD_NAME, _markdown(doc))
    html_path = _write_atomic(out_dir / HTML_NAME, _html(doc))
    return json_path, md_path, html_path
