"""1:N identification protocol on a folder-per-identity dataset (e.g. LFW).

Split (seeded, reproducible): every identity with >= 2 images puts one
randomly chosen image in the gallery and the rest become *mated* probes;
identities with exactly 1 image are *non-mated* probes (not enrolled), used
for open-set false-positive rates.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from facetrust.errors import ConfigError
from facetrust.evaluation.cache import EmbeddingCache
from facetrust.evaluation.embedder import EmbeddedSet, EvalModel, embed_images
from facetrust.evaluation.metrics import cmc, dir_at_fpir, far_key
from facetrust.io import IMAGE_SUFFIXES

DEFAULT_FPIRS: tuple[float, ...] = (1e-2, 1e-1)


@dataclass(frozen=True)
class IdentificationSplit:
    gallery: list[tuple[Path, str]]
    mated: list[tuple[Path, str]]
    nonmated: list[tuple[Path, str]]
    seed: int

    def describe(self) -> dict[str, int]:
        return {"gallery_identities": len(self.gallery), "mated_probes": len(self.mated),
                "nonmated_probes": len(self.nonmated), "seed": self.seed}


def split_identities(root: str | Path, seed: int = 0, max_people: int | None = None) -> IdentificationSplit:
    """Split a folder-per-identity dataset; ``max_people`` keeps a seeded random subset of
    the identity folders (for quick runs)."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"{root}: not a directory (expected one folder per identity)")
    rng = np.random.default_rng(seed)
    people = sorted(p for p in root.iterdir() if p.is_dir())
    if max_people is not None:
        if max_people < 1:
            raise ConfigError(f"max_people must be >= 1, got {max_people}")
        keep = rng.choice(len(people), size=min(max_people, len(people)), replace=False)
        people = [people[i] for i in sorted(keep)]
    gallery, mated, nonmated = [], [], []
    for person in people:
        images = sorted(p for p in person.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if len(images) == 1:
            nonmated.append((images[0], person.name))
        elif len(images) >= 2:
            enrolled = int(rng.integers(len(images)))
            gallery.append((images[enrolled], person.name))
            mated.extend((image, person.name) for i, image in enumerate(images) if i != enrolled)
    if not gallery:
        raise ConfigError(f"{root}: no identity has 2 or more images")
    return IdentificationSplit(gallery, mated, nonmated, seed)


def _matrix(items: list[tuple[Path, str]], embedded: EmbeddedSet, use_fallback: bool) -> tuple[np.ndarray, list[str], int]:
    """Stacked vectors of the images that yielded an embedding, their ids, and how many did not."""
    rows, ids = [], []
    for path, identity in items:
        vector = embedded.vector(path, use_fallback)
        if vector is not None:
            rows.append(vector)
            ids.append(identity)
    dim = rows[0].shape[0] if rows else 0
    matrix = np.stack(rows).astype(np.float32) if rows else np.zeros((0, dim), np.float32)
    return matrix, ids, len(items) - len(rows)


def identification_metrics(split: IdentificationSplit, embedded: EmbeddedSet, use_fallback: bool = True,
                           max_rank: int = 20, fpirs: Sequence[float] = DEFAULT_FPIRS) -> dict[str, Any]:
    """Closed-set CMC / rank-k and open-set DIR@FPIR of one configuration.

    Failures are counted, never hidden: an identity whose gallery image yields no
    face is not enrolled and its probes are dropped (``gallery_not_enrolled``); a
    mated probe with no face counts as a miss at every rank and every threshold
    (``mated_not_acquired``); a non-mated probe with no face raises no alarm and
    is left out of the FPIR denominator (``nonmated_not_acquired``).
    """
    gallery, gallery_ids, not_enrolled = _matrix(split.gallery, embedded, use_fallback)
    if not gallery_ids:
        raise ConfigError("no gallery image yielded a face; nothing to identify against")
    enrolled = set(gallery_ids)
    mated_items = [item for item in split.mated if item[1] in enrolled]
    mated, mated_ids, mated_missing = _matrix(mated_items, embedded, use_fallback)
    nonmated, _, nonmated_missing = _matrix(split.nonmated, embedded, use_fallback)
    if not mated_ids:
        raise ConfigError("no mated probe yielded a face")
    acquired = len(mated_ids) / len(mated_items)  # misses from failure to acquire scale every rate down
    mated_sim = mated @ gallery.T
    rates = cmc(mated_sim, mated_ids, gallery_ids, max_rank=min(max_rank, len(enrolled))) * acquired
    out: dict[str, Any] = {
        "rank1": float(rates[0]),
        "rank5": float(rates[min(4, len(rates) - 1)]),
        "cmc": [float(r) for r in rates],
        "gallery_identities": len(enrolled),
        "gallery_not_enrolled": not_enrolled,
        "mated_probes": len(mated_items),
        "mated_not_acquired": mated_missing,
        "nonmated_probes": len(split.nonmated) - nonmated_missing,
        "nonmated_not_acquired": nonmated_missing,
        "dir_at_fpir": {},
        "dir_at_fpir_threshold": {},
    }
    for fpir in fpirs:
        key = far_key(fpir)
        if len(nonmated) == 0 or fpir * len(nonmated) < 1:
            out["dir_at_fpir"][key] = out["dir_at_fpir_threshold"][key] = None
            continue
        rate, threshold = dir_at_fpir(mated_sim, mated_ids, gallery_ids, nonmated @ gallery.T, fpir)
        out["dir_at_fpir"][key] = rate * acquired
        out["dir_at_fpir_threshold"][key] = threshold
    return out


def run_identification(split: IdentificationSplit, models: Sequence[EvalModel], cache: EmbeddingCache,
                       workers: int = 1, progress: bool = True) -> dict[str, EmbeddedSet]:
    """Embed every image of the split under each configuration (cached); label → embeddings."""
    paths = sorted({path for items in (split.gallery, split.mated, split.nonmated) for path, _ in items})
    embedded = {}
    for model in models:
        result = embed_images(paths, model, cache, workers=workers, progress=progress)
        if result.errors:
            first = next(iter(result.errors.values()))
            raise ConfigError(f"{len(result.errors)} image(s) could not be read, e.g. {first}")
        embedded[model.label] = result
    return embedded
