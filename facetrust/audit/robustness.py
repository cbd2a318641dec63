"""Robustness of verification to image perturbations (blur, noise, JPEG, down-scaling, exposure, occlusion).

Each pair's second image (the probe) is perturbed; the first (the enrolled image) stays clean, as in a
deployment where enrolment photos are good and probes are not. Faces are detected once on the clean
images and that detection is reused for every perturbed copy (the face has not moved): the
perturbation is applied to the image and the face re-aligned by the recognizer from the clean
detection, so what is measured is the recognizer, not the detector. Occlusions are placed from the
detection's 5 landmarks.

Per perturbation and severity: LFW-style 10-fold accuracy (threshold re-fit on the perturbed scores:
the best a re-tuned system could do), and TAR and FMR at the recognizer's shipped threshold for
``fmr`` (what a deployed system does).

Speed: clean detections and every (condition, probe) embedding go to an on-disk cache
(:class:`~facetrust.audit.cache.RobustnessCache`) as each batch of :data:`BATCH` crops is embedded, so an
interrupted audit resumes and a rerun on an overlapping subset costs only the matching. The result's
``timing`` says where the time went (detection, loading, perturbation, alignment, embedding, cache).
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from facetrust.audit.cache import RobustnessCache
from facetrust.audit.robustness_groups import add_tar_lost, group_rates, pair_labels
from facetrust.evaluation.lfw import Pair
from facetrust.evaluation.metrics import kfold_accuracy
from facetrust.perturb import SEVERITY_GRID, perturb_face
from facetrust.progress import Progress, track
from facetrust.types import Detection


#: Probe crops embedded in one ONNX batch (EdgeFace-XS: 7.6 ms per crop in batches of 16, 11.8 alone).
BATCH = 32


class _Timer:
    """Wall seconds per stage (detection, perturbation, alignment, embedding, cache), for the report's
    profile of where an audit's time goes."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.embedded = 0  # crops embedded in this run (the rest came from the cache)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


def model_key(analyzer: Any) -> str:
    """Cache key of the analyzer's detector + recognizer (their model files' sha256)."""
    from facetrust.evaluation.embedder import EvalModel

    config = analyzer.config
    return EvalModel(config.detector, config.recognizer, fallback_box=config.fallback_box).cache_key()


def detect_clean(paths: Sequence[Path], hashes: Mapping[Path, str], analyzer: Any, cache: RobustnessCache,
                 timer: _Timer, progress: Progress = True) -> dict[Path, Detection]:
    """The centre face of each clean image (or the analyzer's fallback box), from ``cache`` where there;
    images without one are left out."""
    from facetrust.analyzer import select_face
    from facetrust.errors import FacetrustError

    key = f"{model_key(analyzer)}|detection"
    with timer.stage("cache"):
        known = cache.get_detections(key, hashes.values())
    todo = [p for p in paths if hashes[p] not in known]
    found: dict[str, Detection | None] = {}
    for path in track(todo, len(todo), "detecting (clean)", progress, "images"):
        with timer.stage("detection"):
            try:
                image = analyzer.load(path)
            except FacetrustError:
                continue  # unreadable: left out and counted, not cached (the file may be fixed)
            faces = analyzer.detect_rgb(image)
            found[hashes[path]] = faces[select_face(faces, "center", image.shape)] if faces else None
        if len(found) >= BATCH:
            cache.put_detections(key, found)
            known.update(found)
            found = {}
    cache.put_detections(key, found)
    known.update(found)
    return {p: known[hashes[p]] for p in paths if known.get(hashes[p]) is not None}


def embed_condition(paths: Sequence[Path], hashes: Mapping[Path, str], detections: Mapping[Path, Detection],
                    condition: tuple[str, float] | None, analyzer: Any, cache: RobustnessCache, timer: _Timer,
                    images: dict[Path, np.ndarray], tick: Callable[[int], None]) -> dict[Path, np.ndarray]:
    """Embeddings of ``paths`` clean (``condition`` None) or perturbed, re-aligned from the clean detection;
    batches of :data:`BATCH` are embedded together and committed to ``cache`` as they finish."""
    recognizer = analyzer.recognizer
    key, name = model_key(analyzer), "clean" if condition is None else f"{condition[0]}:{condition[1]:g}"
    with timer.stage("cache"):
        known = cache.get_vectors(key, name, (hashes[p] for p in paths))
    tick(sum(hashes[p] in known for p in paths))
    todo = [p for p in paths if hashes[p] not in known]
    for start in range(0, len(todo), BATCH):
        batch = todo[start:start + BATCH]
        crops = []
        for path in batch:
            if path not in images:
                with timer.stage("loading"):
                    images[path] = analyzer.load(path)
            image, detection = images[path], detections[path]
            if condition is not None:
                with timer.stage("perturbation"):
                    image = perturb_face(image, condition[0], condition[1], detection.landmarks)
            with timer.stage("alignment"):
                crops.append(recognizer.align(image, detection))
        with timer.stage("embedding"):
            vectors = recognizer.embed_aligned(crops)
        computed = {hashes[p]: v for p, v in zip(batch, vectors)}
        with timer.stage("cache"):
            cache.put_vectors(key, name, computed)
        known.update(computed)
        timer.embedded += len(batch)
        tick(len(batch))
    return {p: known[hashes[p]] for p in paths}


def _metrics(scores: np.ndarray, same: np.ndarray, folds: np.ndarray, threshold: float) -> dict[str, float]:
    accuracies, _ = kfold_accuracy(scores, same, folds)
    accepted = scores >= threshold
    return {"accuracy": float(np.mean(accuracies)), "tar_at_threshold": float(np.mean(accepted[same])),
            "fmr_at_threshold": float(np.mean(accepted[~same]))}


def audit_robustness(pairs: Sequence[Pair], analyzer: Any, threshold: float,
                     grid: Mapping[str, Sequence[float]] = SEVERITY_GRID, progress: Progress = True,
                     cache: RobustnessCache | None = None,
                     groups: Mapping[str, Mapping[Path, str]] | None = None) -> dict[str, Any]:
    """Verification metrics on ``pairs`` clean and under every perturbation of ``grid``.

    ``threshold``: the operating threshold (normally the recognizer's calibrated one at the audit's FMR).
    ``cache``: where detections and embeddings are kept between runs (None: in memory, this run only).
    ``groups``: label column -> {image path: group}; every condition then also gets ``groups``: per column
    the per-group TAR / FNMR at ``threshold`` (:func:`facetrust.audit.robustness_groups.group_rates`).
    Pairs whose images are unreadable or without a face (and no fallback box) are left out and counted.
    Returns {"clean": metrics, "perturbations": {kind: [{"severity", **metrics}, ...]}, "pairs", "left_out",
    "probes", "threshold", "timing": {"wall_s", "cpu_s", "stages_s", "embeddings_computed", ...}}.
    """
    from facetrust.io.sqlite_cache import content_hash

    started, cpu_started = time.perf_counter(), time.process_time()
    timer = _Timer()
    store = cache if cache is not None else RobustnessCache(in_memory=True)
    paths = list(dict.fromkeys(p for pair in pairs for p in (pair.path_a, pair.path_b)))
    with timer.stage("hashing"):
        hashes = {}
        for path in paths:
            try:
                hashes[path] = content_hash(path)
            except OSError:
                pass  # unreadable: its pairs are left out and counted
    detections = detect_clean([p for p in paths if p in hashes], hashes, analyzer, store, timer, progress)
    usable = [p for p in pairs if p.path_a in detections and p.path_b in detections]
    enrolled = list(dict.fromkeys(p.path_a for p in usable))
    probes = list(dict.fromkeys(p.path_b for p in usable))
    same = np.array([p.same for p in usable], dtype=bool)
    folds = np.array([p.fold for p in usable])
    labels = {column: pair_labels(usable, by_path) for column, by_path in (groups or {}).items()}
    identities = np.array([Path(p.path_a).parent.name for p in usable], dtype=object) if labels else None
    conditions: list[tuple[str, float] | None] = [None] + [(k, float(v)) for k, values in grid.items() for v in values]
    total = len(enrolled) + len(conditions) * len(probes)
    bar = iter(track(range(total), total, f"embedding ({len(conditions)} conditions x {len(probes)} probes)",
                     progress, "crops"))

    def tick(count: int) -> None:
        for _ in range(count):
            next(bar, None)

    images: dict[Path, np.ndarray] = {}
    enrolled_vectors = embed_condition(enrolled, hashes, detections, None, analyzer, store, timer, images, tick)
    images = {p: v for p, v in images.items() if p in set(probes)}  # enrolled-only images are done with
    result: dict[str, Any] = {"pairs": len(usable), "left_out": len(pairs) - len(usable), "probes": len(probes),
                              "threshold": threshold, "perturbations": {}}
    for condition in conditions:
        vectors = embed_condition(probes, hashes, detections, condition, analyzer, store, timer, images, tick)
        scores = np.array([float(enrolled_vectors[p.path_a] @ vectors[p.path_b]) for p in usable])
        metrics = _metrics(scores, same, folds, threshold)
        if labels:
            metrics["groups"] = {column: group_rates(scores, same, per_pair, identities, threshold)
                                 for column, per_pair in labels.items()}
            if condition is not None:  # clean comes first
                for column, rates in metrics["groups"].items():
                    add_tar_lost(rates, result["clean"]["groups"][column])
        if condition is None:
            result["clean"] = metrics
        else:
            result["perturbations"].setdefault(condition[0], []).append({"severity": condition[1], **metrics})
    for _ in bar:  # closes the progress bar
        pass
    result["timing"] = {"wall_s": time.perf_counter() - started, "cpu_s": time.process_time() - cpu_started,
                        "stages_s": {k: round(v, 2) for k, v in timer.seconds.items()},
                        "crops": total, "crops_embedded": timer.embedded, "crops_from_cache": total - timer.embedded}
    if cache is None:
        store.close()
    return result


def first_per_class(pairs: Sequence[Pair], count: int) -> list[Pair]:
    """The first ``count`` same-person and the first ``count`` different-person pairs, in list order."""
    same = [p for p in pairs if p.same][:count]
    different = [p for p in pairs if not p.same][:count]
    return sorted(same + different, key=lambda p: p.line)


def fold_subset(pairs: Sequence[Pair], folds: Sequence[int]) -> list[Pair]:
    """The pairs of the given View-2 folds (1-based); with one fold, its pairs are spread over 10
    sub-folds (by line number) so the accuracy is still cross-validated."""
    from facetrust.errors import ConfigError

    chosen = [p for p in pairs if p.fold + 1 in set(folds)]
    if not chosen:
        raise ConfigError(f"no pairs in folds {', '.join(map(str, folds))} (the list has folds 1-{max(p.fold for p in pairs) + 1})")
    return [replace(p, fold=p.line % 10) for p in chosen] if len(set(folds)) == 1 else chosen
