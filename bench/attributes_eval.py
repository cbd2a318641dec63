"""The attribute evaluation of docs/attributes.md (research data: never committed).

1. UTKFace, the balanced subset (``in_repo_random_200``: 200 images per gender x race group,
   2,000 images): age MAE / CS@5 and gender accuracy per group (``facetrust eval attributes``).
2. LFW-a (grayscale): gender on a seeded random sample of :data:`LFW_SAMPLE` images with Afifi &
   Abdelhamed's labels — the library answers ``unavailable``; the forced-grey accuracy shows why.

    nice python bench/attributes_eval.py            # reports under bench/results/attributes/

The full crop_part1 (9,778 labelled images, unbalanced) was run directly:
``facetrust eval attributes --labels ../shared/data/utkface/labels.csv --report bench/results/attributes/utkface_full``.

Predictions are cached (~/.cache/facetrust/attribute_predictions.sqlite): a rerun is cheap.
"""
from __future__ import annotations

import csv
import random
import subprocess
import sys
from pathlib import Path

from common import RESULTS, SHARED

OUT = RESULTS / "attributes"
LFW_SAMPLE = 500


def subset(source: Path, keep, target: Path) -> Path:
    with source.open(newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        rows = [row for row in reader if keep(row)]
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=reader.fieldnames)
        writer.writeheader()
        writer.writerows(rows)
    return target


def run(labels: Path, root: Path, name: str, *extra: str) -> None:
    subprocess.run([sys.executable, "-m", "facetrust.cli.main", "eval", "attributes", "--labels", str(labels),
                    "--root", str(root), "--report", str(OUT / name), *extra], check=True)


def main() -> None:
    utk = SHARED / "data" / "utkface"
    run(subset(utk / "labels.csv", lambda row: bool(row["in_repo_random_200"]), OUT / "utkface_balanced.csv"),
        utk, "utkface_balanced")
    lfw = SHARED / "data" / "lfw_demographics" / "labels.csv"
    rng = random.Random(0)
    run(subset(lfw, lambda row: row["gender_afifi"] in ("M", "F") and rng.random() < LFW_SAMPLE / 13229,
               OUT / "lfw_gender_sample.csv"), SHARED / "data" / "lfw", "lfw_gender", "--crops")


if __name__ == "__main__":
    main()
