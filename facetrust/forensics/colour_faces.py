"""UTKFace colour faces for the forgery detector: a deterministic train / calibration /
evaluation split by a hash of the file name (no list of research file names is committed).

``../shared/data/utkface`` holds 9,780 real colour face crops (200x200) with gender and
race labels (research use only). Self-blending needs only real faces, so the ``train``
split is training data for the SBI detector; ``calibration`` is where operating
thresholds are chosen; ``evaluation`` is only ever scored (false alarms per group).
The split of a file depends on its name alone: sha256 of the base name, first 8 bytes
as a fraction of 2**64, compared with :data:`SPLIT_BOUNDS`.
"""
from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from facetrust.errors import ConfigError

Split = Literal["train", "calibration", "evaluation"]
#: Upper bounds of the hash fraction: 70% train, 10% calibration, 20% evaluation.
SPLIT_BOUNDS: tuple[tuple[float, Split], ...] = ((0.70, "train"), (0.80, "calibration"), (1.0, "evaluation"))


def hash_fraction(file_name: str) -> float:
    """sha256 of the base name, first 8 bytes as a fraction of 2**64: uniform in [0, 1)."""
    digest = hashlib.sha256(Path(file_name).name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_of(file_name: str) -> Split:
    """The split of a UTKFace file, from its base name only."""
    fraction = hash_fraction(file_name)
    return next(split for bound, split in SPLIT_BOUNDS if fraction < bound)


@dataclass(frozen=True)
class ColourFace:
    path: Path
    gender: str
    race: str
    age: int | None
    split: Split


def read_utkface(root: Path, split: Split | None = None, per_race: int | None = None) -> list[ColourFace]:
    """Labelled faces of ``root/labels.csv`` (all, or one split), in file order; rows without
    gender or race (2 malformed names) are left out. ConfigError when the labels are missing.
    ``per_race``: at most that many faces of each race, the lowest :func:`hash_fraction` first
    (a deterministic, race-balanced subsample)."""
    labels = Path(root) / "labels.csv"
    if not labels.is_file():
        raise ConfigError(f"{labels}: no UTKFace labels file")
    faces = []
    with labels.open(newline="", encoding="utf-8") as stream:
        for row in csv.DictReader(stream):
            if not row["gender"] or not row["race"]:
                continue
            face = ColourFace(Path(root) / row["file"], row["gender"], row["race"],
                              int(row["age"]) if row["age"] else None, split_of(row["file"]))
            if split is None or face.split == split:
                faces.append(face)
    if per_race is not None:
        ranked = sorted(faces, key=lambda f: hash_fraction(f.path.name))
        kept = {id(f) for race in {f.race for f in faces} for f in [g for g in ranked if g.race == race][:per_race]}
        faces = [f for f in faces if id(f) in kept]
    return faces
