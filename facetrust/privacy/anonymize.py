"""Anonymising faces in images: blur, pixelate or mask every detected face, with a margin.

What it achieves is measured, not assumed (:func:`evaluate_anonymization`): how often the
recognizer still matches an anonymised face to the original at FMR = 1e-3, and how often a
face is missed by the detector (and so stays visible).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from facetrust.errors import ConfigError, FacetrustError
from facetrust.types import Detection

if TYPE_CHECKING:
    from facetrust.analyzer import FaceAnalyzer
    from facetrust.progress import Progress

METHODS = ("blur", "pixelate", "mask")
DEFAULT_MARGIN = 0.25  # of the box's width / height, added on every side (hair, ears, chin)
PIXELATE_BLOCKS = 8  # blocks across the (expanded) face


def _region(box: Sequence[float], margin: float, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * margin, (y2 - y1) * margin
    height, width = shape[:2]
    return (max(0, int(np.floor(x1 - dx))), max(0, int(np.floor(y1 - dy))),
            min(width, int(np.ceil(x2 + dx))), min(height, int(np.ceil(y2 + dy))))


def anonymize_rgb(rgb: np.ndarray, boxes: Sequence[Sequence[float]], method: str = "blur",
                  margin: float = DEFAULT_MARGIN) -> np.ndarray:
    """A copy of ``rgb`` with each box (x1, y1, x2, y2), grown by ``margin``, made unrecognisable."""
    import cv2

    if method not in METHODS:
        raise ConfigError(f"unknown anonymisation method {method!r} (known: {', '.join(METHODS)})")
    if not 0.0 <= margin <= 2.0:
        raise ConfigError(f"margin must be between 0 and 2 (a fraction of the face size), got {margin}")
    out = np.array(rgb, copy=True)
    for box in boxes:
        x1, y1, x2, y2 = _region(box, margin, out.shape)
        if x2 <= x1 or y2 <= y1:
            continue
        patch = out[y1:y2, x1:x2]
        if method == "mask":
            patch[...] = 0
        elif method == "pixelate":
            small = cv2.resize(patch, (PIXELATE_BLOCKS, PIXELATE_BLOCKS), interpolation=cv2.INTER_AREA)
            patch[...] = cv2.resize(small, (x2 - x1, y2 - y1), interpolation=cv2.INTER_NEAREST)
        else:
            # A kernel half the face wide: features smaller than the face are gone, the outline stays.
            size = max(3, (max(x2 - x1, y2 - y1) // 2) | 1)
            patch[...] = cv2.GaussianBlur(cv2.GaussianBlur(patch, (size, size), 0), (size, size), 0)
    return out


@dataclass
class AnonymizeReport:
    written: dict[str, int] = field(default_factory=dict)  # output path -> faces anonymised (videos: face tracks)
    failed: dict[str, str] = field(default_factory=dict)
    videos: dict[str, dict[str, Any]] = field(default_factory=dict)  # output path -> VideoAnonymization.to_dict()

    def to_dict(self) -> dict[str, Any]:
        return {"written": self.written, "failed": self.failed, "videos": self.videos}


def anonymize_files(paths: Sequence[Path], out_dir: Path, analyzer: "FaceAnalyzer", method: str = "blur",
                    margin: float = DEFAULT_MARGIN, progress: "Progress" = False,
                    extra_detectors: Sequence["FaceAnalyzer"] = ()) -> AnonymizeReport:
    """Anonymise every face of each image into ``out_dir`` by the output path rule of
    :mod:`facetrust.io.outputs` (relative paths kept, so two inputs named alike never overwrite
    each other; the input's format where kept, else PNG); each file written atomically.
    Videos (:func:`facetrust.io.is_video`) go through
    :func:`facetrust.privacy.anonymize_video.anonymize_video` (face tracks, ``.mp4`` output);
    ``progress`` reports their frames. Faces found by any of ``extra_detectors`` are anonymised too."""
    from facetrust.io import is_video
    from facetrust.io.outputs import copy_targets, relative_targets, write_image
    from facetrust.privacy.anonymize_video import anonymize_video, detected_boxes, video_target

    anonymize_rgb(np.zeros((1, 1, 3), np.uint8), [], method, margin)  # bad options fail before any work
    report = AnonymizeReport()
    targets = copy_targets([Path(p) for p in paths], Path(out_dir), f"--out {out_dir}")
    relative = relative_targets([Path(p) for p in paths], Path(out_dir))
    for path in paths:
        target = targets[Path(path)]
        try:
            if is_video(path):
                target = video_target(relative[Path(path)])
                done = anonymize_video(Path(path), target, analyzer, method, margin, progress=progress,
                                       extra_detectors=extra_detectors)
                report.written[str(target)] = done.tracks
                report.videos[str(target)] = done.to_dict()
                continue
            rgb = analyzer.load(path)
            boxes = detected_boxes(rgb, [analyzer, *extra_detectors])
            write_image(anonymize_rgb(rgb, boxes, method, margin), target)
            report.written[str(target)] = len(boxes)
        except FacetrustError as exc:
            report.failed[str(path)] = str(exc)
    return report


def evaluate_anonymization(paths: Sequence[Path], analyzer: "FaceAnalyzer", method: str = "blur",
                           margin: float = DEFAULT_MARGIN, fmr: float = 1e-3) -> dict[str, Any]:
    """On images with one face each (e.g. LFW): miss rate (no face detected, so nothing anonymised)
    and re-identification rate (the anonymised face, embedded at the original face's landmarks,
    still matches the original embedding at ``fmr``), plus how often the detector still finds it."""
    threshold = analyzer.threshold(fmr)
    recognizer = analyzer.recognizer
    missed = matched = redetected = total = 0
    for path in paths:
        rgb = analyzer.load(path)
        total += 1
        detections: list[Detection] = analyzer.detect_rgb(rgb)
        if not detections:
            missed += 1
            continue
        face = detections[0]
        hidden = anonymize_rgb(rgb, [d.box for d in detections], method, margin)
        original, anonymised = recognizer.embed_aligned([recognizer.align(rgb, face), recognizer.align(hidden, face)])
        matched += int(float(original @ anonymised) >= threshold)
        redetected += int(bool(analyzer.detect_rgb(hidden)))
    found = total - missed
    return {"method": method, "margin": margin, "images": total, "fmr": fmr, "threshold": threshold,
            "miss_rate": missed / total if total else None,
            "reidentification_rate": matched / found if found else None,
            "redetection_rate": redetected / found if found else None}
