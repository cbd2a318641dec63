"""Human-readable tables for CLI results."""
from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


#: Per-face check results a table shows, in this order (see facetrust.checks).
CHECK_KEYS = ("quality", "liveness", "forgery", "attributes")


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
        status = value.get("status") or ("acceptable" if value.get("acceptable") else "low")
        score = value.get("score")
        parts.append(f"{key} {status}" + ("" if score is None else f" {score:.2f}"))
    return "; ".join(parts)


def _face_cell(face: dict[str, Any]) -> str:
    checks = check_summary(face)
    return f"{[round(v) for v in face['box']]} {face['score']:.2f}" + (f" ({checks})" if checks else "")


def print_table(records: list[dict[str, Any]]) -> None:
    table = Table("path", "faces", "boxes (x1,y1,x2,y2), scores and checks")
    for record in records:
        if "error" in record:
            table.add_row(record["path"], "-", f"[red]{record['error']}[/red]")
        elif "frames" in record:
            counts = [len(frame["faces"]) for frame in record["frames"]]
            lines = [f"{len(counts)} frames sampled, faces per frame: {counts}"]
            for track in record.get("tracks", []):
                checks = check_summary(track)
                lines.append(f"track {track['track']}: {track['frames']} frames" + (f" ({checks})" if checks else ""))
            table.add_row(record["path"], str(max(counts, default=0)), "\n".join(lines))
        else:
            boxes = "; ".join(_face_cell(f) for f in record["faces"])
            table.add_row(record["path"], str(len(record["faces"])), boxes or "no face")
    Console().print(table)


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def print_metrics(title: str, metrics: dict[str, dict[str, Any]], rows: list[tuple[str, str]]) -> None:
    """One column per configuration; ``rows`` are (caption, dotted metric key)."""
    table = Table("metric", *metrics, title=title)
    for caption, key in rows:
        values = []
        for entry in metrics.values():
            value: Any = entry
            for part in key.split("/"):
                value = value.get(part) if isinstance(value, dict) else None
            values.append(_cell(value))
        table.add_row(caption, *values)
    Console().print(table)
