"""Which training faces a batch draws: half colour, half gray, and optionally group-balanced.

The UTKFace ``train`` split is 54% White and 16% Asian, and a detector fine-tuned on it
flagged Asian faces' aligned crops about five times as often as White ones (docs/forensics.md).
:func:`sampling_weights` with ``groups`` gives every race the same share of the UTKFace draws
and, within a race, every age band the same share (so rare groups are oversampled, common
ones undersampled); ``aligned_share`` of each group's share goes to its aligned-112 crops
(:func:`facetrust.forensics.training.data.build_aligned112_set`) where it has any.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np

#: Coarse age bands for balancing (the attribute bins are too fine: some race x bin cells hold 5 faces).
AGE_BANDS = ((0, 3, "0-2"), (3, 20, "3-19"), (20, 40, "20-39"), (40, 60, "40-59"), (60, 10**6, "60+"))
ALIGNED112_SUFFIX = "#aligned112"


def age_band(age: int | None) -> str:
    if age is None:
        return "unknown"
    return next(name for low, high, name in AGE_BANDS if low <= age < high)


def utkface_groups(sources: Sequence[str], utkface_root: Path) -> np.ndarray:
    """Per face: ``"race/age band"`` for UTKFace faces (by file name, aligned-112 crops included), else ``""``."""
    from facetrust.forensics.colour_faces import read_utkface

    labels = {face.path.name: f"{face.race}/{age_band(face.age)}" for face in read_utkface(utkface_root)}
    return np.array([labels.get(Path(str(s).split("#")[0]).name, "") for s in sources], dtype=object)


def is_aligned112(sources: Sequence[str]) -> np.ndarray:
    return np.array([str(s).endswith(ALIGNED112_SUFFIX) for s in sources])


def sampling_weights(colour: np.ndarray, groups: np.ndarray | None = None, aligned: np.ndarray | None = None,
                     aligned_share: float = 0.0) -> np.ndarray:
    """Probabilities (summing to 1) of drawing each face.

    Half the mass on colour faces, half on gray ones (each uniform), as before. With ``groups``
    (``"race/age band"``, ``""`` for faces outside any group): the grouped colour faces' part of the
    colour half is split equally over races, then equally over the age bands present in each race;
    within a (race, band) cell, ``aligned_share`` goes to its ``aligned`` faces (if it has any) and the
    rest to the others, uniformly. Ungrouped colour faces keep their count share of the colour half.
    """
    colour = np.asarray(colour, bool)
    n = len(colour)
    aligned = np.zeros(n, bool) if aligned is None else np.asarray(aligned, bool)
    weights = np.where(colour, 0.5 / max(colour.sum(), 1), 0.5 / max((~colour).sum(), 1))
    if groups is not None:
        groups = np.asarray(groups, dtype=object)
        grouped = colour & (groups != "")
        grouped_mass = 0.5 * grouped.sum() / max(colour.sum(), 1)
        cells: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for i in np.flatnonzero(grouped):
            race, band = str(groups[i]).split("/")
            cells[race][band].append(i)
        for race, bands in cells.items():
            for band, members in bands.items():
                cell_mass = grouped_mass / len(cells) / len(bands)
                members = np.asarray(members)
                in_form = aligned[members]
                shares = ((1.0 - aligned_share, ~in_form), (aligned_share, in_form)) if in_form.any() and \
                    (~in_form).any() else ((1.0, np.ones(len(members), bool)),)
                for share, chosen in shares:
                    weights[members[chosen]] = cell_mass * share / chosen.sum()
    elif aligned.any() and aligned_share > 0:
        raise ValueError("aligned_share needs groups (the aligned crops are weighted within their group)")
    return weights / weights.sum()
