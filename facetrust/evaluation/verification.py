"""Verification protocols (LFW View 2, labelled pair lists) over one or more configurations.

For each configuration: scores of every pair *with* the centre-crop fallback
(if the configuration has a fallback box) and *without* it (pairs where an
image had no detected face are left out and counted). Optional score-level
fusion of the first two configurations: each matcher's scores are
z-normalised with the mean and std of its scores on the *training* folds of
each test fold, then summed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from facetrust.errors import ConfigError
from facetrust.evaluation.cache import EmbeddingCache
from facetrust.evaluation.embedder import EmbeddedSet, EvalModel, embed_images
from facetrust.evaluation.lfw import Pair
from facetrust.evaluation.metrics import summarize_verification, znorm

FUSION_LABEL = "fusion"


@dataclass
class ScoredPairs:
    label: str
    scores: np.ndarray
    same: np.ndarray
    folds: np.ndarray
    index: np.ndarray  # position of each scored pair in the pair list
    pairs_skipped: int = 0

    def __repr__(self) -> str:
        genuine = int(np.count_nonzero(self.same))
        return (f"ScoredPairs({self.label!r}, {len(self.scores)} pairs: {genuine} genuine, "
                f"{len(self.scores) - genuine} impostor, {len(np.unique(self.folds))} folds, "
                f"{self.pairs_skipped} skipped)")


@dataclass
class VerificationRun:
    """Scores and summaries of every configuration on one pair list."""

    pairs: list[Pair]
    embedded: dict[str, EmbeddedSet] = field(default_factory=dict)
    with_fallback: dict[str, ScoredPairs] = field(default_factory=dict)
    without_fallback: dict[str, ScoredPairs] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"VerificationRun({len(self.pairs)} pairs, configurations: {', '.join(self.with_fallback)})"

    def metrics(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for label, scored in self.with_fallback.items():
            entry: dict[str, Any] = summarize_verification(scored.scores, scored.same, scored.folds).to_dict()
            entry["pairs_scored"] = int(len(scored.scores))
            entry["pairs_skipped"] = scored.pairs_skipped
            bare = self.without_fallback.get(label)
            if bare is not None and bare is not scored:
                entry["without_fallback"] = {
                    **summarize_verification(bare.scores, bare.same, bare.folds).to_dict(),
                    "pairs_scored": int(len(bare.scores)),
                    "pairs_skipped": bare.pairs_skipped,
                }
            embedded = self.embedded.get(label)
            if embedded is not None:
                entry["images"] = len(embedded.embeddings)
                entry["images_embedded"] = embedded.computed  # the rest came from the cache
                entry["failure_to_detect"] = len(embedded.not_detected)
                entry["images_per_second"] = embedded.images_per_second
            out[label] = entry
        return out


def _score(pairs: Sequence[Pair], embedded: EmbeddedSet, use_fallback: bool) -> ScoredPairs:
    scores, index = [], []
    for position, pair in enumerate(pairs):
        a, b = embedded.vector(pair.path_a, use_fallback), embedded.vector(pair.path_b, use_fallback)
        if a is not None and b is not None:
            scores.append(float(a @ b))
            index.append(position)
    kept = [pairs[i] for i in index]
    return ScoredPairs(embedded.model.label, np.array(scores), np.array([p.same for p in kept], dtype=bool),
                       np.array([p.fold for p in kept]), np.array(index, dtype=int), len(pairs) - len(scores))


def fuse(first: ScoredPairs, second: ScoredPairs) -> ScoredPairs:
    """Sum of z-normalised scores on the pairs both scored; statistics from the other folds only."""
    common, in_first, in_second = np.intersect1d(first.index, second.index, return_indices=True)
    first = ScoredPairs(first.label, first.scores[in_first], first.same[in_first], first.folds[in_first], common)
    second = ScoredPairs(second.label, second.scores[in_second], second.same[in_second], second.folds[in_second], common)
    fused = np.empty_like(first.scores)
    for fold in np.unique(first.folds):
        test, train = first.folds == fold, first.folds != fold
        if not train.any():
            train = test  # a single fold: no held-out statistics exist
        fused[test] = sum(
            znorm(s.scores[test], float(s.scores[train].mean()), float(s.scores[train].std()))
            for s in (first, second)
        )
    return ScoredPairs(FUSION_LABEL, fused, first.same, first.folds, common)


def run_verification(
    pairs: Sequence[Pair],
    models: Sequence[EvalModel],
    cache: EmbeddingCache,
    workers: int = 1,
    fusion: bool = False,
    progress: bool = True,
) -> VerificationRun:
    if not pairs:
        raise ConfigError("empty pair list")
    if fusion and len(models) < 2:
        raise ConfigError("fusion needs two configurations (add one with --compare)")
    paths = sorted({p.path_a for p in pairs} | {p.path_b for p in pairs})
    run = VerificationRun(list(pairs))
    for model in models:
        embedded = embed_images(paths, model, cache, workers=workers, progress=progress)
        if embedded.errors:
            first = next(iter(embedded.errors.values()))
            raise ConfigError(f"{len(embedded.errors)} image(s) could not be read, e.g. {first}")
        run.embedded[model.label] = embedded
        run.with_fallback[model.label] = _score(pairs, embedded, use_fallback=True)
        run.without_fallback[model.label] = (
            _score(pairs, embedded, use_fallback=False) if model.fallback_box else run.with_fallback[model.label]
        )
    if fusion:
        first, second = (run.with_fallback[m.label] for m in models[:2])
        fused = fuse(first, second)
        fused.pairs_skipped = len(pairs) - len(fused.scores)
        run.with_fallback[FUSION_LABEL] = fused
    return run


def pair_paths(pairs: Sequence[Pair]) -> list[Path]:
    return sorted({p.path_a for p in pairs} | {p.path_b for p in pairs})
