"""Quality features of a whole image set: parallel, resumable, stored as .npz chunks.

Training the learned assessor and drawing error-versus-discard curves need,
per image, the selected face's components, its embedding and (for some
images) its perturbation features (:mod:`facetrust.quality.perturbation`). :func:`extract_features` computes them with
exactly the code the assessors run on single faces, in worker processes, and
writes every chunk of images atomically, so an interrupted run resumes where
it stopped.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from facetrust.analyzer import AnalyzerConfig, FaceAnalyzer
from facetrust.errors import ConfigError, FacetrustError
from facetrust.parallel import map_with_analyzer
from facetrust.quality.components import COMPONENT_NAMES, measure
from facetrust.quality.perturbation import PERTURBATION_NAMES, perturbation_features

CHUNK = 32
#: Bump when what is stored per image changes, so old chunks are recomputed.
FEATURES_VERSION = 3


@dataclass
class FeatureTable:
    """Per-image features; row i belongs to ``paths[i]``. NaN = not measured or not requested."""

    paths: list[str]
    detected: np.ndarray  # (n,) bool: a face was detected (False: fallback box or no face)
    has_face: np.ndarray  # (n,) bool: a face (detected or fallback) was measured
    detector_score: np.ndarray  # (n,)
    boxes: np.ndarray  # (n, 4) of the measured face; NaN without a face
    landmarks: np.ndarray  # (n, 5, 2)
    components: np.ndarray  # (n, len(COMPONENT_NAMES)); NaN where not measurable
    embeddings: np.ndarray  # (n, dim) float32, zero rows without a face
    perturbations: np.ndarray  # (n, len(PERTURBATION_NAMES)); NaN where not requested

    @property
    def stability(self) -> np.ndarray:
        """The training-free stability measure: mean cosine to the mirrored and the shifted crop."""
        return self.perturbations[:, :2].mean(axis=1)

    def component(self, name: str) -> np.ndarray:
        return self.components[:, COMPONENT_NAMES.index(name)]

    def rows(self, paths: Sequence[str | Path]) -> np.ndarray:
        index = {p: i for i, p in enumerate(self.paths)}
        return np.array([index[str(p)] for p in paths], dtype=np.int64)

    def component_dict(self, row: int) -> dict[str, float | None]:
        return {name: (None if np.isnan(v) else float(v)) for name, v in zip(COMPONENT_NAMES, self.components[row])}

    def model_inputs(self, groups: Sequence[str]) -> np.ndarray:
        """The learned regressor's inputs of every row (input groups as in :data:`facetrust.quality.learned.INPUT_GROUPS`)."""
        from facetrust.quality.learned import component_features, model_inputs

        components = np.stack([component_features(self.component_dict(i)) for i in range(len(self.paths))])
        return model_inputs(groups, components, self.embeddings, self.detector_score, self.perturbations)

    def has_inputs(self, groups: Sequence[str]) -> np.ndarray:
        """Rows with a face and, if ``groups`` use them, measured perturbation features."""
        measured = np.all(np.isfinite(self.perturbations), axis=1) if "perturbations" in groups else True
        return self.has_face & measured


_FIELDS = ("detected", "has_face", "detector_score", "boxes", "landmarks", "components", "embeddings", "perturbations")


def _features_of(analyzer: FaceAnalyzer, path: str, want_perturbations: bool) -> tuple:
    """The :data:`_FIELDS` of the largest face of one image."""
    dim = analyzer.recognizer.dim
    nothing = (False, False, np.nan, np.full(4, np.nan), np.full((5, 2), np.nan), np.full(len(COMPONENT_NAMES), np.nan),
               np.zeros(dim, np.float32), np.full(len(PERTURBATION_NAMES), np.nan))
    try:
        image = analyzer.load(path)
        detections = analyzer.detect_rgb(image)
        if not detections:
            return nothing
        face = detections[0]
        components = _component_row(measure(image, face.box, face.landmarks, analyzer.config.detector))
        crop = analyzer.recognizer.align(image, face)
        if want_perturbations:
            embedding, moved = perturbation_features(analyzer.recognizer, image, face, crop)
        else:
            embedding, moved = analyzer.recognizer.embed_aligned([crop])[0], np.full(len(PERTURBATION_NAMES), np.nan)
        return (not face.fallback, True, face.score, np.array(face.box, np.float64), face.landmarks.astype(np.float64),
                components, embedding.astype(np.float32), moved)
    except FacetrustError:
        return nothing


def _component_row(values: dict[str, float | None]) -> np.ndarray:
    return np.array([np.nan if values[k] is None else values[k] for k in COMPONENT_NAMES], dtype=np.float64)


def _chunk(analyzer: FaceAnalyzer, paths: list[str], perturb: list[bool]) -> dict[str, np.ndarray]:
    rows = [_features_of(analyzer, p, s) for p, s in zip(paths, perturb)]
    dtypes = (bool, bool, np.float64, np.float64, np.float64, np.float64, np.float32, np.float64)
    return {name: np.array([r[i] for r in rows], dtype=dtype) for i, (name, dtype) in enumerate(zip(_FIELDS, dtypes))}


def _feature_config(config: AnalyzerConfig) -> dict[str, Any]:
    """The analyzer settings the features depend on: the cache key must not change when a
    field that cannot alter them (checks, their options, the execution device) is added or set."""
    return {name: getattr(config, name) for name in
            ("detector", "recognizer", "detector_options", "recognizer_options", "max_pixels", "fallback_box")}


def _save_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    temporary = path.with_name(path.name + ".tmp.npz")
    np.savez(temporary, **arrays)
    os.replace(temporary, path)


def extract_features(
    paths: Sequence[str | Path],
    config: AnalyzerConfig,
    store: Path,
    perturbations_for: set[str] | None = None,
    workers: int = 1,
    progress: bool = True,
) -> FeatureTable:
    """Features of ``paths`` (largest face each) under ``config``, cached in folder ``store``.

    ``perturbations_for``: the paths (as str) whose perturbation features are
    wanted (they cost three extra embeddings each). Rerunning with the same arguments
    reads the stored chunks; an interrupted run recomputes only missing ones.
    """
    names = [str(p) for p in paths]
    if not names:
        raise ConfigError("no images to extract quality features from")
    wanted = perturbations_for or set()
    flags = [n in wanted for n in names]
    settings = _feature_config(config)
    key = json.dumps({"version": FEATURES_VERSION, "config": settings, "paths": names, "perturbations": flags})
    store = Path(store) / hashlib.sha256(key.encode()).hexdigest()[:16]
    store.mkdir(parents=True, exist_ok=True)
    (store / "run.json").write_text(json.dumps({"config": settings, "images": len(names)}) + "\n")
    tasks = [(names[i:i + CHUNK], flags[i:i + CHUNK]) for i in range(0, len(names), CHUNK)]
    files = [store / f"chunk_{i:05d}.npz" for i in range(len(tasks))]
    todo = [i for i, f in enumerate(files) if not f.exists()]
    results = map_with_analyzer(_chunk, [tasks[i] for i in todo], config, workers)
    for index, arrays in _progress(results, todo, tasks, progress):
        _save_atomic(files[index], arrays)
    parts = [dict(np.load(f)) for f in files]
    return FeatureTable(names, *(np.concatenate([p[k] for p in parts]) for k in _FIELDS))


def remeasure(table: FeatureTable, detector: str, max_pixels: int | None = None) -> FeatureTable:
    """The table with its components measured again from the stored faces (after a change of
    the component code; costs an image decode per image, no detection or embedding)."""
    from facetrust.io.image import load_image

    components = table.components.copy()
    for row in np.flatnonzero(table.has_face):
        image = load_image(table.paths[row], max_pixels)
        box = tuple(float(v) for v in table.boxes[row])
        components[row] = _component_row(measure(image, box, table.landmarks[row], detector))  # type: ignore[arg-type]
    return FeatureTable(table.paths, table.detected, table.has_face, table.detector_score, table.boxes,
                        table.landmarks, components, table.embeddings, table.perturbations)


def _progress(results: Iterator[dict[str, np.ndarray]], todo: list[int], tasks: list, enabled: bool):  # type: ignore[no-untyped-def]
    if not enabled:
        yield from zip(todo, results)
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    total = sum(len(tasks[i][0]) for i in todo)
    with Progress(TextColumn("quality features"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True)) as bar:
        task = bar.add_task("", total=total)
        for index, arrays in zip(todo, results):
            bar.advance(task, len(tasks[index][0]))
            yield index, arrays
