"""The audited image set: files, identities and optional demographic group labels.

A group CSV has a ``file`` column (relative to the image root), optionally an
``identity`` column (default: the file's folder name) and any number of group
columns; an empty cell means "not labelled" for that column.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from facetrust.errors import ConfigError
from facetrust.io import expand_inputs


@dataclass
class AuditSet:
    """Images with their identity and, per group column, their group ('' = unlabelled)."""

    paths: list[Path]
    identities: list[str]
    groups: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def subset(self, keep: Sequence[bool]) -> "AuditSet":
        chosen = [i for i, k in enumerate(keep) if k]
        return AuditSet([self.paths[i] for i in chosen], [self.identities[i] for i in chosen],
                        {c: [v[i] for i in chosen] for c, v in self.groups.items()}, list(self.notes))

    def labels_by_path(self) -> dict[str, dict[Path, str]]:
        """Per group column: image path -> group, labelled images only."""
        return {column: {p: v for p, v in zip(self.paths, values) if v} for column, values in self.groups.items()}


def folder_set(root: str | Path) -> AuditSet:
    """Every image under ``root``; identity = the image's folder name."""
    paths = expand_inputs([str(root)])
    return AuditSet(paths, [p.parent.name for p in paths])


def read_group_csv(csv_path: str | Path, root: str | Path, columns: Sequence[str] | None = None,
                   only_labelled: str | None = None, skip_missing: bool = False) -> AuditSet:
    """Images and group labels from a ``file,group,...`` CSV.

    ``columns``: the group columns to audit (default: all but file/identity).
    ``only_labelled``: keep only images with a value in that column.
    Files not found under ``root`` are an error naming the first ones, unless ``skip_missing``
    (then counted in the notes).
    """
    csv_path, root = Path(csv_path), Path(root)
    try:
        with csv_path.open(newline="", encoding="utf-8") as stream:
            reader = csv.DictReader(stream)
            rows = list(reader)
            header = reader.fieldnames or []
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{csv_path}: cannot read group labels ({exc})") from None
    if "file" not in header:
        raise ConfigError(f"{csv_path}: needs a 'file' column, found {', '.join(header) or 'no header'}")
    available = [c for c in header if c not in ("file", "identity")]
    columns = list(columns) if columns else available
    unknown = [c for c in [*columns, *([only_labelled] if only_labelled else [])] if c not in header]
    if unknown:
        raise ConfigError(f"{csv_path}: no column {', '.join(map(repr, unknown))}; group columns: {', '.join(available)}")
    if not set(columns) <= set(available):  # 'file' / 'identity': one group per image or person, nothing to compare
        raise ConfigError(f"{csv_path}: 'file' and 'identity' are not group columns; group columns: {', '.join(available)}")
    if only_labelled:
        rows = [r for r in rows if (r.get(only_labelled) or "").strip()]
    if not rows:
        raise ConfigError(f"{csv_path}: no images" + (f" labelled in {only_labelled!r}" if only_labelled else ""))
    missing = [r["file"] for r in rows if not (root / r["file"]).is_file()]
    notes = []
    if missing:
        message = f"{len(missing)} of {len(rows)} files in {csv_path.name} not found under {root} (first: {missing[0]})"
        if not skip_missing:
            raise ConfigError(message + "; use --skip-missing to leave them out")
        notes.append(message + ": left out")
        rows = [r for r in rows if (root / r["file"]).is_file()]
    for column in columns:
        if not any((r.get(column) or "").strip() for r in rows):
            raise ConfigError(f"{csv_path}: group column {column!r} is empty for every audited image")
    return AuditSet([root / r["file"] for r in rows],
                    [(r.get("identity") or "").strip() or Path(r["file"]).parent.name for r in rows],
                    {c: [(r.get(c) or "").strip() for r in rows] for c in columns}, notes)
