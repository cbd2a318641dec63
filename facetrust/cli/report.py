"""Human-readable tables for CLI results."""
from __future__ import annotations

import re
from typing import Any, Iterable

from rich.console import Console
from rich.table import Column, Table


#: Per-face check results a table shows, in this order (see facetrust.checks).
CHECK_KEYS = ("quality", "liveness", "forgery", "attributes", "pose")


def short_path(path: str, width: int) -> str:
    """``…/knn_examples/test/obama.jpg``: a path cut from the left to ``width`` characters, at a
    folder boundary where one is near, so the file name stays visible (rich would cut the end)."""
    if len(path) <= width:
        return path
    tail = path[-(width - 1):]
    boundary = re.search(r"[/\\]", tail[:-1])
    if boundary is not None and re.search(r"[/\\]", tail[boundary.end():]) is None and boundary.start() > width // 2:
        return "…" + tail  # the only folder boundary would leave little more than the file name
    return "…" + (tail[boundary.start():] if boundary is not None else tail)


def path_column(paths: Iterable[str], console: Console) -> tuple[Column, dict[str, str]]:
    """A table column for file paths (up to a third of the console) and each path's cell text."""
    width = max(24, console.width // 3)
    cells = {path: short_path(path, width) for path in paths}
    longest = max((len(cell) for cell in cells.values()), default=4)
    return Column("path", no_wrap=True, min_width=min(width, max(4, longest))), cells


def check_summary(result: dict[str, Any]) -> str:
    """``liveness live 0.99; forgery real 0.12`` for the check results in a face or track dict."""
    parts = []
    for key in CHECK_KEYS:
        value = result.get(key)
        if not isinstance(value, dict):
            continue
        if key == "attributes":
            from facetrust.attributes.check import attributes_summary

            parts.append(attributes_summary(value))
            continue
        if key == "pose" and value.get("status") == "ok":
            parts.append(f"pose yaw {value['yaw']:.0f} pitch {value['pitch']:.0f} roll {value['roll']:.0f}")
            continue
        status = value.get("status") or ("acceptable" if value.get("acceptable") else "low")
        score = value.get("score")
        parts.append(f"{key} {status}" + ("" if score is None else f" {score:.2f}"))
    return "; ".join(parts)


def _face_cell(face: dict[str, Any]) -> str:
    checks = check_summary(face)
    return f"{[round(v) for v in face['box']]} {face['score']:.2f}" + (f" ({checks})" if checks else "")


def print_table(records: list[dict[str, Any]]) -> None:
    console = Console()
    column, paths = path_column((record["path"] for record in records), console)
    table = Table(column, "faces", "boxes (x1,y1,x2,y2), scores and checks")
    for record in records:
        if "error" in record:
            table.add_row(paths[record["path"]], "-", f"[red]{record['error']}[/red]")
        elif "frames" in record:
            counts = [len(frame["faces"]) for frame in record["frames"]]
            lines = [f"{len(counts)} frames sampled, faces per frame: {counts}"]
            for track in record.get("tracks", []):
                checks = check_summary(track)
                lines.append(f"track {track['track']}: {track['frames']} frames" + (f" ({checks})" if checks else ""))
            table.add_row(paths[record["path"]], str(max(counts, default=0)), "\n".join(lines))
        else:
            boxes = "; ".join(_face_cell(f) for f in record["faces"])
            table.add_row(paths[record["path"]], str(len(record["faces"])), boxes or "no face")
    console.print(table)


def print_metrics(title: str, metrics: dict[str, dict[str, Any]], rows: list[Any], legend: list[str] = ()) -> None:
    """One column per configuration; ``rows`` are :class:`~facetrust.evaluation.report.HeadlineRow` s
    or (caption, "/"-separated metric path) pairs. "–" (not applicable or not measured) is explained
    below the table."""
    from facetrust.evaluation.report import DASH_LEGEND, HeadlineRow, headline_rows, headline_table

    rows = [row if isinstance(row, HeadlineRow) else headline_rows([row])[0] for row in rows]
    header, body = headline_table(metrics, rows)
    # configuration names stay whole; the captions wrap when the console is narrow
    table = Table("metric", *[Column(label, no_wrap=True, min_width=len(label)) for label in header[1:]], title=title)
    for line in body:
        table.add_row(*line)
    console = Console()
    console.print(table)
    if any("–" in cell for line in body for cell in line[1:]):
        for line in (DASH_LEGEND, *legend):
            console.print(line, style="dim", highlight=False)
