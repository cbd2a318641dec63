"""Robustness of the liveness and forgery checks to the perturbations of :mod:`facetrust.perturb` (the same
grid as the recognizers' audit): what fraction of the checks' decisions flip.

Each image is checked clean, then under every perturbation and severity. The face is detected once on the
clean image (the check's own face detector, largest face) and that detection is reused for every perturbed
copy, as in the recognizer audit: what is measured is the check, not the detector; occlusions are placed
from the detection's 5 landmarks. Per condition, against each image's clean decision:

* ``flip_rate``: decided clean (live/spoof, real/fake) and decided the other way perturbed;
* the transitions one by one (``live->spoof``, ``spoof->live``, ``live->unavailable``, ...): a check that
  declines a perturbed image (``unavailable``: e.g. a grayscale-looking image after a contrast cut) has not
  been fooled, but has stopped deciding, so that is counted apart (``to_unavailable_rate``);
* ``mean_abs_score_change``: mean |score perturbed - score clean| where both have a score.

Results are cached per (check configuration, condition, image content) in the audits' cache
(:class:`~facetrust.audit.cache.RobustnessCache`), so an interrupted audit resumes. The audit runs condition
by condition and keeps the decoded images in memory meanwhile: it is meant for check-sized sets (tens to a
few thousand images), not for millions.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from facetrust.audit.cache import RobustnessCache
from facetrust.errors import ConfigError, FacetrustError
from facetrust.io.sqlite_cache import content_hash
from facetrust.perturb import SEVERITY_GRID, perturb_face
from facetrust.progress import Progress, track
from facetrust.types import Detection, Face

#: The two decisions of each check (first: the one a genuine input should get).
DECISIONS: dict[str, tuple[str, str]] = {"liveness": ("live", "spoof"), "forgery": ("real", "fake")}


@dataclass
class CheckUnderTest:
    """A check reduced to what the audit needs: find the face, decide on it."""

    name: str  # "liveness" or "forgery"
    key: str  # cache key: everything that changes a decision (model files, threshold, calibration, detector)
    load: Callable[[Path], np.ndarray]
    detect: Callable[[np.ndarray], list[Detection]]  # largest first
    decide: Callable[[np.ndarray, Detection], tuple[str, float | None]]  # (status, score)


def _as_detection(face: Face) -> Detection:
    return Detection(tuple(map(float, face.box)), float(face.score),
                     None if face.landmarks is None else np.asarray(face.landmarks, dtype=np.float32))


def liveness_under_test(checker: Any) -> CheckUnderTest:
    """A :class:`~facetrust.liveness.checker.LivenessChecker` (its model, threshold, calibration, detector)."""
    from facetrust.liveness.cache import config_key

    def decide(image: np.ndarray, detection: Detection) -> tuple[str, float | None]:
        result = checker.check_face(image, detection)
        return result.status, result.score

    return CheckUnderTest("liveness", f"liveness|{config_key(checker)}|{checker.analyzer.config.detector}",
                          checker.analyzer.load,
                          lambda image: [_as_detection(f) for f in checker.analyzer.detect(image)], decide)


def forgery_under_test(checker: Any) -> CheckUnderTest:
    """A :class:`~facetrust.forensics.checker.ForgeryChecker` (its detector, threshold, face detector)."""
    from facetrust.forensics.cache import detector_version

    def decide(image: np.ndarray, detection: Detection) -> tuple[str, float | None]:
        face = Face(detection.box, detection.score, detection.landmarks)
        result = checker.check_face(image, face)
        return result.status, result.score

    settings = json.dumps([detector_version(checker.detector_name), checker.threshold, checker.face_detector,
                           checker.min_face_side, checker.crop_fallback])
    return CheckUnderTest("forgery", f"forgery|{hashlib.sha256(settings.encode()).hexdigest()[:32]}",
                          checker.analyzer.load, lambda image: [_as_detection(f) for f in checker.detect(image)],
                          decide)


def _condition_name(condition: tuple[str, float] | None) -> str:
    return "clean" if condition is None else f"{condition[0]}:{condition[1]:g}"


def _flips(clean: Mapping[str, tuple[str, float | None]], perturbed: Mapping[str, tuple[str, float | None]],
           decisions: tuple[str, str]) -> dict[str, Any]:
    decided = [d for d, (status, _) in clean.items() if status in decisions]
    transitions: dict[str, int] = {}
    for digest, (before, score_before) in clean.items():
        after = perturbed[digest][0]
        if after != before:
            name = f"{before}->{after}"
            transitions[name] = transitions.get(name, 0) + 1
    flipped = sum(1 for d in decided if perturbed[d][0] in decisions and perturbed[d][0] != clean[d][0])
    declined = sum(1 for d in decided if perturbed[d][0] not in decisions)
    changes = [abs(perturbed[d][1] - clean[d][1]) for d in clean
               if clean[d][1] is not None and perturbed[d][1] is not None]
    statuses: dict[str, int] = {}
    for status, _ in perturbed.values():
        statuses[status] = statuses.get(status, 0) + 1
    return {"flip_rate": flipped / len(decided) if decided else None, "flipped": flipped,
            "to_unavailable_rate": declined / len(decided) if decided else None, "to_unavailable": declined,
            "transitions": dict(sorted(transitions.items())), "statuses": dict(sorted(statuses.items())),
            "mean_abs_score_change": float(np.mean(changes)) if changes else None}


def audit_check_flips(paths: Sequence[Path], check: CheckUnderTest,
                      grid: Mapping[str, Sequence[float]] = SEVERITY_GRID, progress: Progress = True,
                      cache: RobustnessCache | None = None) -> dict[str, Any]:
    """Decisions of ``check`` on ``paths`` clean and under every perturbation of ``grid``, and how many flip.

    Images that cannot be read or have no face are left out and counted (``unreadable``, ``no_face``);
    identical files are checked once. Returns {"check", "images", "no_face", "unreadable", "clean":
    {"statuses"}, "perturbations": {kind: [{"severity", "flip_rate", "flipped", "to_unavailable_rate",
    "to_unavailable", "transitions", "statuses", "mean_abs_score_change"}, ...]}}.
    """
    if check.name not in DECISIONS:
        raise ConfigError(f"unknown check {check.name!r}; known: {', '.join(DECISIONS)}")
    if not paths:
        raise ConfigError("no images to audit")
    store = cache if cache is not None else RobustnessCache(in_memory=True)
    hashes: dict[Path, str] = {}
    unreadable = 0
    for path in paths:
        try:
            hashes[path] = content_hash(path)
        except OSError:
            unreadable += 1
    digests = list(dict.fromkeys(hashes.values()))
    first_path = {digest: path for path, digest in reversed(list(hashes.items()))}
    detection_key = f"{check.key}|detection"
    detections = store.get_detections(detection_key, digests)
    images: dict[str, np.ndarray] = {}

    def image_of(digest: str) -> np.ndarray | None:
        if digest not in images:
            try:
                images[digest] = check.load(first_path[digest])
            except FacetrustError:
                return None
        return images[digest]

    for digest in track([d for d in digests if d not in detections], None, "detecting (clean)", progress, "images"):
        image = image_of(digest)
        if image is None:
            unreadable += 1
            continue
        found = check.detect(image)
        detections[digest] = found[0] if found else None
        store.put_detections(detection_key, {digest: detections[digest]})
    usable = [d for d in digests if detections.get(d) is not None]
    if not usable:
        raise ConfigError(f"no face found in any of the {len(paths)} images")
    conditions: list[tuple[str, float] | None] = [None] + [(k, float(v)) for k, values in grid.items() for v in values]
    decisions: dict[str, dict[str, tuple[str, float | None]]] = {}
    steps = track(conditions, len(conditions), f"{check.name} under perturbations ({len(usable)} images each)",
                  progress, "conditions")
    for condition in steps:
        name = _condition_name(condition)
        known = store.get_check_results(check.key, name, usable)
        for digest in usable:
            if digest in known:
                continue
            image, detection = image_of(digest), detections[digest]
            if image is None:  # readable for detection, unreadable now: counted as a decline
                known[digest] = ("unavailable", None)
                continue
            if condition is not None:
                image = perturb_face(image, condition[0], condition[1], detection.landmarks)
            known[digest] = check.decide(image, detection)
            store.put_check_results(check.key, name, {digest: known[digest]})
        decisions[name] = known
    clean = decisions["clean"]
    statuses: dict[str, int] = {}
    for status, _ in clean.values():
        statuses[status] = statuses.get(status, 0) + 1
    result: dict[str, Any] = {"check": check.name, "images": len(usable), "no_face": len(digests) - len(usable),
                              "unreadable": unreadable, "duplicates": len(hashes) - len(digests),
                              "clean": {"statuses": dict(sorted(statuses.items()))}, "perturbations": {}}
    for condition in conditions[1:]:
        assert condition is not None
        entry = {"severity": condition[1], **_flips(clean, decisions[_condition_name(condition)], DECISIONS[check.name])}
        result["perturbations"].setdefault(condition[0], []).append(entry)
    if cache is None:
        store.close()
    return result
