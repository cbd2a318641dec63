"""Training data: image folders (one folder per identity), aligned once with the project's own
detector + ArcFace 112x112 alignment and cached as PNG crops (``<cache>/<identity>/<stem>.png``).

Unreadable images and images without a face are skipped and counted (the cache's ``index.json``
remembers them, so a re-run neither retries nor loses them); empty folders and identities with
fewer than ``min_images_per_identity`` usable images are left out and counted.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facetrust.errors import ImageError
from facetrust.io.image import load_image
from facetrust.progress import Progress, track
from facetrust.training.errors import DatasetError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
CROP_SIZE = 112


@dataclass
class DataReport:
    """What went into the training set and what was left out, with counts."""
    images: int = 0
    identities: int = 0
    corrupt: list[str] = field(default_factory=list)
    no_face: list[str] = field(default_factory=list)
    empty_folders: list[str] = field(default_factory=list)
    too_few_images: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.images} images of {self.identities} identities; skipped: {len(self.corrupt)} unreadable, "
                f"{len(self.no_face)} without a face, {len(self.empty_folders)} empty folders, "
                f"{len(self.too_few_images)} identities with too few images")


@dataclass
class FaceDataset:
    """Aligned crops (paths) with integer labels; ``identities[label]`` is the folder name."""
    paths: list[Path]
    labels: np.ndarray
    identities: list[str]
    report: DataReport

    def __len__(self) -> int:
        return len(self.paths)

    def load(self, indices: np.ndarray) -> np.ndarray:
        """(N, 112, 112, 3) uint8 RGB crops."""
        crops = [load_image(self.paths[i]) for i in indices]
        for i, crop in zip(indices, crops):
            if crop.shape != (CROP_SIZE, CROP_SIZE, 3):
                raise DatasetError(f"{self.paths[i]} is {crop.shape[1]}x{crop.shape[0]}, not an aligned "
                                   f"{CROP_SIZE}x{CROP_SIZE} crop (set aligned = false to align the images)")
        return np.stack(crops)


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _identity_folders(root: Path) -> list[Path]:
    if not root.is_dir():
        raise DatasetError(f"training data folder not found: {root}")
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    if not folders:
        raise DatasetError(f"{root} has no identity folders (expected one folder of images per identity)")
    return folders


def _write_png_atomic(crop: np.ndarray, target: Path) -> None:
    import cv2

    target.parent.mkdir(parents=True, exist_ok=True)
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(crop[:, :, ::-1]))
    if not ok:
        raise DatasetError(f"cannot encode the crop for {target}")
    handle, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    with os.fdopen(handle, "wb") as out:
        out.write(encoded.tobytes())
    os.replace(tmp, target)


def build_aligned_cache(root: Path, cache: Path, detector: str, progress: Progress = True) -> dict[str, str]:
    """Align every image under ``root`` into ``cache``; the index maps ``identity/file`` to
    ``ok``, ``corrupt`` or ``no_face``. Images already in the index are not redone."""
    from facetrust.alignment import align_arcface
    from facetrust.analyzer import AnalyzerConfig, FaceAnalyzer

    index_path = cache / "index.json"
    index: dict[str, str] = json.loads(index_path.read_text()) if index_path.is_file() else {}
    folders = _identity_folders(root)
    for folder in folders:  # every identity gets a cache folder, so empty ones are reported, not lost
        (cache / folder.name).mkdir(parents=True, exist_ok=True)
    todo = [(folder.name, image) for folder in folders for image in _images(folder)
            if f"{folder.name}/{image.name}" not in index]
    analyzer = FaceAnalyzer(AnalyzerConfig(detector=detector))
    try:
        for identity, image_path in track(todo, len(todo), "aligning", progress, unit="images"):
            key = f"{identity}/{image_path.name}"
            try:
                image = analyzer.load(image_path)
            except ImageError:
                index[key] = "corrupt"
                continue
            detections = analyzer.detect_rgb(image)
            if not detections:
                index[key] = "no_face"
                continue
            _write_png_atomic(align_arcface(image, detections[0].landmarks, CROP_SIZE),
                              cache / identity / f"{image_path.stem}.png")
            index[key] = "ok"
    finally:  # an interrupted run keeps what it aligned
        handle, tmp = tempfile.mkstemp(dir=cache, suffix=".tmp")
        with os.fdopen(handle, "w") as out:
            json.dump(index, out, indent=0, sort_keys=True)
        os.replace(tmp, index_path)
    return index


def load_dataset(root: Path, min_images: int, index: dict[str, str] | None = None) -> FaceDataset:
    """The dataset of aligned crops under ``root`` (an aligned cache or a folder of aligned crops).
    ``index`` (from :func:`build_aligned_cache`) adds the skipped originals to the report."""
    report = DataReport()
    if index is not None:
        report.corrupt = sorted(k for k, v in index.items() if v == "corrupt")
        report.no_face = sorted(k for k, v in index.items() if v == "no_face")
    paths: list[Path] = []
    labels: list[int] = []
    identities: list[str] = []
    for folder in _identity_folders(root):
        images = _images(folder)
        if not images:
            report.empty_folders.append(folder.name)
            continue
        if len(images) < min_images:
            report.too_few_images.append(folder.name)
            continue
        paths += images
        labels += [len(identities)] * len(images)
        identities.append(folder.name)
    report.images, report.identities = len(paths), len(identities)
    if len(identities) < 2:
        raise DatasetError(f"{root}: need at least 2 identities with >= {min_images} usable images each; "
                           f"found {len(identities)} ({report.summary()})")
    return FaceDataset(paths, np.array(labels, dtype=np.int64), identities, report)
