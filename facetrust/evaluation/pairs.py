"""Labelled pair lists in CSV form: ``path_a,path_b,same`` (header optional)."""
from __future__ import annotations

import csv
from pathlib import Path

from facetrust.errors import ConfigError
from facetrust.evaluation.lfw import Pair

_TRUE = {"1", "true", "yes", "same", "genuine"}
_FALSE = {"0", "false", "no", "different", "impostor"}


def read_pairs_csv(csv_path: str | Path, root: str | Path | None = None, skip_missing: bool = False,
                   folds: int = 10) -> tuple[list[Pair], list[str]]:
    """Pairs from a CSV file; relative paths resolve against ``root`` (default:
    the CSV's folder). Pairs are assigned to ``folds`` folds round-robin for
    cross-validated accuracy. Returns (pairs, skipped-line messages); missing
    images are an error naming the line unless ``skip_missing``."""
    csv_path = Path(csv_path)
    base = Path(root) if root is not None else csv_path.parent
    try:
        rows = list(csv.reader(csv_path.read_text().splitlines()))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{csv_path}: cannot read pair list ({exc})") from None
    pairs: list[Pair] = []
    skipped: list[str] = []
    for number, row in enumerate(rows, start=1):
        if not row or all(not cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        if number == 1 and row[-1].strip().lower() in ("same", "label", "is_same"):
            continue  # header
        if len(row) != 3:
            raise ConfigError(f"{csv_path}:{number}: expected 3 columns path_a,path_b,same, got {len(row)}")
        label = row[2].strip().lower()
        if label not in _TRUE | _FALSE:
            raise ConfigError(f"{csv_path}:{number}: label {row[2]!r} is not one of 1/0/true/false/same/different")
        path_a, path_b = (base / row[0].strip(), base / row[1].strip())
        absent = [str(p) for p in (path_a, path_b) if not p.is_file()]
        if absent:
            message = f"{csv_path}:{number}: image not found: {', '.join(absent)}"
            if not skip_missing:
                raise ConfigError(message + " (use --skip-missing to skip such pairs)")
            skipped.append(message)
            continue
        pairs.append(Pair(path_a, path_b, label in _TRUE, len(pairs) % folds, number))
    if not pairs:
        raise ConfigError(f"{csv_path}: no usable pairs")
    if len({p.same for p in pairs}) < 2:
        raise ConfigError(f"{csv_path}: needs both same and different pairs, found only one class")
    return pairs, skipped
