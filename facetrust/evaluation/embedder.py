"""Embedding a dataset for evaluation: cached, parallel, resumable, with fallback accounting."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from facetrust.analyzer import AnalyzerConfig, select_face
from facetrust.defaults import DEFAULT_DETECTOR, DEFAULT_RECOGNIZER
from facetrust.evaluation.cache import CachedEmbedding, EmbeddingCache, content_hash
from facetrust.parallel import analyze_paths, progress_map

#: Bump when the way embeddings are computed changes, to invalidate old cache rows.
CACHE_VERSION = 1
_BATCH = 64


@dataclass(frozen=True)
class EvalModel:
    """A detector + recognizer configuration under evaluation."""

    detector: str = DEFAULT_DETECTOR
    recognizer: str = DEFAULT_RECOGNIZER
    select: str = "center"
    fallback_box: tuple[float, float, float, float] | None = None

    @property
    def label(self) -> str:
        return f"{self.detector}+{self.recognizer}"

    def model_files(self) -> dict[str, str]:
        """sha256 of every model file behind this configuration (for reports and cache keys)."""
        from facetrust.presets import detector_models
        from facetrust.zoo import get_model
        from facetrust.zoo.manifest import list_models

        known = {m.name for m in list_models()}
        # The detector's models as its class declares them (a registry name need not be a zoo
        # name: "retinaface" loads "retinaface-mnet025-onnx"); dlib-shape5 places the fallback's landmarks.
        names = [*detector_models(self.detector), self.recognizer, "dlib-shape5"]
        return {f.path: f.sha256 for name in names if name in known for f in get_model(name).files}

    def cache_key(self) -> str:
        files = ",".join(f"{path}={sha[:16]}" for path, sha in sorted(self.model_files().items()))
        return f"v{CACHE_VERSION}|{self.label}|select={self.select}|{files}"


@dataclass
class EmbeddedSet:
    """Embeddings of a list of images under one configuration."""

    model: EvalModel
    embeddings: dict[Path, CachedEmbedding]
    computed: int = 0  # images embedded in this run (the rest came from the cache)
    seconds: float = 0.0
    errors: dict[Path, str] = field(default_factory=dict)
    hashes: dict[Path, str] = field(default_factory=dict)  # content sha256 per image

    def __repr__(self) -> str:
        return (f"EmbeddedSet({self.model.label!r}, {len(self.embeddings)} images, {self.computed} embedded "
                f"this run, {len(self.not_detected)} without a detected face, {len(self.errors)} errors)")

    def dataset_sha256(self) -> str:
        """One checksum of the evaluated images' contents (order-independent)."""
        import hashlib

        return hashlib.sha256("".join(sorted(self.hashes.values())).encode()).hexdigest()

    @property
    def not_detected(self) -> list[Path]:
        return [p for p, e in self.embeddings.items() if not e.detected]

    @property
    def images_per_second(self) -> float | None:
        return self.computed / self.seconds if self.computed and self.seconds > 0 else None

    def vector(self, path: Path, use_fallback: bool) -> np.ndarray | None:
        entry = self.embeddings.get(path)
        if entry is None:
            return None
        return entry.best() if use_fallback else entry.vector


def _selected_vector(result, select: str) -> np.ndarray | None:  # type: ignore[no-untyped-def]
    if not result.faces:
        return None
    return result.faces[select_face(result.faces, select, (result.height, result.width))].embedding


def embed_images(
    paths: Sequence[Path],
    model: EvalModel,
    cache: EmbeddingCache,
    workers: int = 1,
    progress: bool = True,
) -> EmbeddedSet:
    """Embed ``paths`` (selected face per image), reading and filling ``cache``.

    Images where no face is detected get a fallback embedding from
    ``model.fallback_box`` when one is set. Interrupting loses at most the
    last uncommitted batch of 64 images.
    """
    if model.recognizer.startswith("fusion:"):
        return _embed_fusion(paths, model, cache, workers, progress)
    key = model.cache_key()
    hashes = {Path(p): content_hash(Path(p)) for p in paths}
    cached = cache.get_many(key, hashes.values())
    todo = [p for p, h in hashes.items() if h not in cached or
            (model.fallback_box and not cached[h].detected and cached[h].fallback_vector is None)]
    result = EmbeddedSet(model, {}, hashes=hashes)
    started = time.perf_counter()
    if todo:
        fresh = _compute(todo, model, workers, progress, result.errors, lambda batch: cache.put_many(
            key, {hashes[p]: e for p, e in batch.items()}))
        cached.update({hashes[p]: e for p, e in fresh.items()})
        result.computed = len(fresh)
        result.seconds = time.perf_counter() - started
    result.embeddings = {p: cached[h] for p, h in hashes.items() if h in cached}
    return result


def _embed_fusion(paths: Sequence[Path], model: EvalModel, cache: EmbeddingCache, workers: int,
                  progress: bool) -> EmbeddedSet:
    """A fused recognizer's embeddings composed from its members' (cached) ones: each member's
    part of a fused embedding is exactly that member's embedding (facetrust.recognition.fusion)."""
    from dataclasses import replace

    from facetrust.recognition import RECOGNIZERS

    fusion = RECOGNIZERS.get_class(model.recognizer)
    parts = {m: embed_images(paths, replace(model, recognizer=m), cache, workers, progress) for m in fusion.members}
    result = EmbeddedSet(model, {}, hashes=next(iter(parts.values())).hashes)
    result.computed = max(p.computed for p in parts.values())
    result.seconds = sum(p.seconds for p in parts.values())
    for part in parts.values():
        result.errors.update(part.errors)
    for path in result.hashes:
        entries = {m: p.embeddings.get(Path(path)) for m, p in parts.items()}
        if any(e is None for e in entries.values()):
            continue  # an image a member could not read: already in errors
        detected = all(e.detected for e in entries.values())

        def fused(kind: str) -> np.ndarray | None:
            vectors = {m: getattr(e, kind) for m, e in entries.items()}
            return None if all(v is None for v in vectors.values()) else fusion.fuse(vectors)[0]

        result.embeddings[Path(path)] = CachedEmbedding(detected, fused("vector"), fused("fallback_vector"))
    return result


def _compute(todo, model, workers, progress, errors, commit):  # type: ignore[no-untyped-def]
    config = AnalyzerConfig(detector=model.detector, recognizer=model.recognizer)
    done: dict[Path, CachedEmbedding] = {}
    pending: dict[Path, CachedEmbedding] = {}
    missing: list[Path] = []
    stream = progress_map(analyze_paths(todo, config, embed=True, workers=workers), len(todo),
                          f"embedding ({model.label})", enabled=progress)
    for item in stream:
        if item.error:
            errors[item.path] = item.error
            continue
        vector = _selected_vector(item, model.select)
        entry = CachedEmbedding(vector is not None, vector, None)
        if vector is None and model.fallback_box:
            missing.append(item.path)
        pending[item.path] = done[item.path] = entry
        if len(pending) >= _BATCH:
            commit(pending)
            pending = {}
    commit(pending)
    if missing:
        fallback_config = AnalyzerConfig(detector=model.detector, recognizer=model.recognizer,
                                         fallback_box=model.fallback_box)
        extra = {r.path: r for r in analyze_paths(missing, fallback_config, embed=True, workers=1)}
        batch = {}
        for path, item in extra.items():
            vector = item.faces[0].embedding if item.faces else None
            batch[path] = done[path] = CachedEmbedding(False, None, vector)
        commit(batch)
    return done
