"""Human-readable tables for CLI results."""
from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def print_table(records: list[dict[str, Any]]) -> None:
    table = Table("path", "faces", "boxes (x1,y1,x2,y2) and scores")
    for record in records:
        if "error" in record:
            table.add_row(record["path"], "-", f"[red]{record['error']}[/red]")
        elif "frames" in record:
            counts = [len(frame["faces"]) for frame in record["frames"]]
            table.add_row(record["path"], str(max(counts, default=0)),
                          f"{len(counts)} frames sampled, faces per frame: {counts}")
        else:
            boxes = "; ".join(f"{[round(v) for v in f['box']]} {f['score']:.2f}" for f in record["faces"])
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
