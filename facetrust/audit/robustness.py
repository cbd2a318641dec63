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
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from facetrust.evaluation.lfw import Pair
from facetrust.evaluation.metrics import kfold_accuracy
from facetrust.perturb import SEVERITY_GRID, perturb_face


@dataclass
class CleanFace:
    image: np.ndarray
    detection: Any  # Detection (fallback box where nothing was detected)


def detect_faces(paths: Sequence[Path], analyzer: Any, progress: bool = True) -> dict[Path, CleanFace]:
    """Load each image and pick its centre face (or the analyzer's fallback box)."""
    from facetrust.analyzer import select_face
    from facetrust.parallel import progress_map

    def one(path: Path) -> tuple[Path, CleanFace | None]:
        image = analyzer.load(path)
        found = analyzer.detect_rgb(image)
        return path, CleanFace(image, found[select_face(found, "center", image.shape)]) if found else None

    faces = dict(progress_map((one(p) for p in paths), len(paths), "detecting (clean)", enabled=progress))
    return {p: f for p, f in faces.items() if f is not None}


def _metrics(scores: np.ndarray, same: np.ndarray, folds: np.ndarray, threshold: float) -> dict[str, float]:
    accuracies, _ = kfold_accuracy(scores, same, folds)
    accepted = scores >= threshold
    return {"accuracy": float(np.mean(accuracies)), "tar_at_threshold": float(np.mean(accepted[same])),
            "fmr_at_threshold": float(np.mean(accepted[~same]))}


def audit_robustness(pairs: Sequence[Pair], analyzer: Any, threshold: float,
                     grid: Mapping[str, Sequence[float]] = SEVERITY_GRID, progress: bool = True) -> dict[str, Any]:
    """Verification metrics on ``pairs`` clean and under every perturbation of ``grid``.

    ``threshold``: the operating threshold (normally the recognizer's calibrated one at the audit's FMR).
    Pairs whose images are unreadable or without a face (and no fallback box) are left out and counted.
    Returns {"clean": metrics, "perturbations": {kind: [{"severity", **metrics}, ...]}, "pairs", "left_out"}.
    """
    from facetrust.parallel import progress_map

    paths = list(dict.fromkeys(p for pair in pairs for p in (pair.path_a, pair.path_b)))
    faces = detect_faces(paths, analyzer, progress)
    usable = [p for p in pairs if p.path_a in faces and p.path_b in faces]
    recognizer = analyzer.recognizer
    enrolled = list(dict.fromkeys(p.path_a for p in usable))
    probes = list(dict.fromkeys(p.path_b for p in usable))
    enrolled_vectors = dict(zip(enrolled, recognizer.embed_aligned([recognizer.align(faces[p].image, faces[p].detection)
                                                              for p in enrolled])))
    same = np.array([p.same for p in usable])
    folds = np.array([p.fold for p in usable])

    def scored(kind: str | None, value: float) -> dict[str, float]:
        crops = []
        for path in probes:
            face = faces[path]
            image = face.image if kind is None else perturb_face(face.image, kind, value, face.detection.landmarks)
            crops.append(recognizer.align(image, face.detection))
        probe_vectors = dict(zip(probes, recognizer.embed_aligned(crops)))
        scores = np.array([float(enrolled_vectors[p.path_a] @ probe_vectors[p.path_b]) for p in usable])
        return _metrics(scores, same, folds, threshold)

    conditions = [(None, 0.0)] + [(kind, value) for kind, values in grid.items() for value in values]
    measured = progress_map(((kind, value, scored(kind, value)) for kind, value in conditions), len(conditions),
                            f"perturbations ({len(probes)} probes each)", enabled=progress)
    result: dict[str, Any] = {"pairs": len(usable), "left_out": len(pairs) - len(usable), "probes": len(probes),
                              "threshold": threshold, "perturbations": {}}
    for kind, value, metrics in measured:
        if kind is None:
            result["clean"] = metrics
        else:
            result["perturbations"].setdefault(kind, []).append({"severity": value, **metrics})
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
