"""Real faces for self-blended training: aligned crops with their 5 landmarks.

Sources (all real, none from the deepfake evaluation data):

* every image under ``shared/data/faces`` (colour photos; every detected face);
* frames of ``short_hamilton_clip.mp4`` there (colour video; every 3rd frame);
* a seeded random subset of LFW-a (grayscale, kept gray: see docs/forensics.md);
* with ``utkface=True``, the ``train`` split of UTKFace (colour crops,
  :mod:`facetrust.forensics.colour_faces`); its calibration and evaluation splits never.

Faces are detected with YuNet (images under 256 px are enlarged for detection),
aligned with :func:`facetrust.forensics.crop.aligned_crop` at the detector's input
size and margin, and cached as one ``.npz`` (crops, landmarks in crop coordinates,
source file per crop, and whether it is colour) so repeated training runs skip detection.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from facetrust.forensics.synthesis import is_gray

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
VIDEO_EVERY_SECONDS = 0.1


@dataclass(frozen=True)
class FaceSet:
    crops: np.ndarray  # (N, S, S, 3) uint8 RGB
    landmarks: np.ndarray  # (N, 5, 2) float32, crop coordinates
    sources: np.ndarray  # (N,) str: file (and frame) each crop came from
    colour: np.ndarray  # (N,) bool

    def save(self, path: Path) -> None:
        import os
        import tempfile

        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
        os.close(handle)
        np.savez_compressed(tmp, crops=self.crops, landmarks=self.landmarks, sources=self.sources,
                            colour=self.colour)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> "FaceSet":
        with np.load(path) as data:
            return cls(data["crops"], data["landmarks"], data["sources"], data["colour"])

    def __add__(self, other: "FaceSet") -> "FaceSet":
        return FaceSet(np.concatenate([self.crops, other.crops]), np.concatenate([self.landmarks, other.landmarks]),
                       np.concatenate([self.sources, other.sources]), np.concatenate([self.colour, other.colour]))


def training_files(shared: Path, lfw_images: int, seed: int, utkface: bool = False) -> list[Path]:
    """The real-face files used for training, in a fixed order."""
    from facetrust.forensics.colour_faces import read_utkface

    faces = sorted(p for p in (shared / "data" / "faces").rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    videos = sorted((shared / "data" / "faces").rglob("*.mp4"))
    lfw = sorted((shared / "data" / "lfw").rglob("*.jpg"))
    rng = np.random.default_rng(seed)
    picked = [lfw[i] for i in sorted(rng.choice(len(lfw), size=min(lfw_images, len(lfw)), replace=False))]
    colour = [face.path for face in read_utkface(shared / "data" / "utkface", "train")] if utkface else []
    return faces + videos + picked + colour


def _detect(analyzer: object, image: np.ndarray) -> list[np.ndarray]:
    from facetrust.forensics.faces import detect_faces

    return [face.landmarks for face in detect_faces(analyzer, image)]


def build_face_set(files: list[Path], size: int, margin: float, min_face_side: float) -> FaceSet:
    from rich.progress import track

    from facetrust.analyzer import FaceAnalyzer
    from facetrust.forensics.crop import aligned_crop, face_scale
    from facetrust.io.image import load_image
    from facetrust.io.video import read_frames

    analyzer = FaceAnalyzer(detector="yunet")
    crops, points, sources, colour = [], [], [], []
    for path in track(files, description="detecting training faces"):
        if path.suffix == ".mp4":
            frames = [(f"{path}#{f.index}", f.image) for f in read_frames(path, every_seconds=VIDEO_EVERY_SECONDS)]
        else:
            frames = [(str(path), load_image(path))]
        for name, image in frames:
            for landmarks in _detect(analyzer, image):
                if face_scale(landmarks) < min_face_side * 0.4:  # eyes-to-mouth ~ 0.4 x box side
                    continue
                crop, crop_to_image = aligned_crop(image, landmarks, size, margin)
                image_to_crop = _invert(crop_to_image)
                crops.append(crop)
                points.append(np.asarray(landmarks, np.float64) @ image_to_crop[:, :2].T + image_to_crop[:, 2])
                sources.append(name)
                colour.append(not is_gray(crop))
    return FaceSet(np.stack(crops), np.asarray(points, np.float32), np.asarray(sources), np.asarray(colour))


def build_aligned112_set(files: list[Path], size: int, margin: float) -> FaceSet:
    """The aligned-112 form of each image's largest face, cropped as the checker crops a stored crop.

    The exact path the false-alarm evaluation takes (:func:`facetrust.forensics.false_alarms.crop_form`):
    YuNet landmarks on the image, ArcFace alignment to 112x112 (black where the template reaches past
    the image), then the face re-detected on the 112 crop (whole image + dlib landmarks where YuNet finds
    none, as ``--crops`` does) and cut with :func:`facetrust.forensics.crop.aligned_crop` (reflection
    where the crop reaches past the 112 pixels). Sources end in ``#aligned112``; images without a
    detected face are skipped.
    """
    from rich.progress import track

    from facetrust.analyzer import FaceAnalyzer
    from facetrust.forensics.crop import aligned_crop
    from facetrust.forensics.false_alarms import crop_form
    from facetrust.forensics.faces import detect_faces
    from facetrust.forensics.training.sampling import ALIGNED112_SUFFIX
    from facetrust.io.image import load_image

    analyzer = FaceAnalyzer(detector="yunet")
    crops, points, sources, colour = [], [], [], []
    for path in track(files, description="aligned-112 training crops"):
        stored, _ = crop_form(load_image(path), "aligned112", analyzer)
        if stored is None:
            continue
        landmarks = detect_faces(analyzer, stored, crop_fallback=True)[0].landmarks
        crop, crop_to_image = aligned_crop(stored, landmarks, size, margin)
        image_to_crop = _invert(crop_to_image)
        crops.append(crop)
        points.append(np.asarray(landmarks, np.float64) @ image_to_crop[:, :2].T + image_to_crop[:, 2])
        sources.append(f"{path}{ALIGNED112_SUFFIX}")
        colour.append(not is_gray(crop))
    return FaceSet(np.stack(crops), np.asarray(points, np.float32), np.asarray(sources), np.asarray(colour))


def _invert(matrix: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.invertAffineTransform(matrix)


def files_digest(files: list[Path]) -> str:
    """sha256 over the sorted (relative name, file sha256) list: identifies the training data."""
    from facetrust.zoo.store import sha256_of

    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.parent.name}/{path.name}:{sha256_of(path)}\n".encode())
    return digest.hexdigest()


def file_names_sha256(shared: Path, files: list[Path]) -> str:
    """sha256 of the sorted file names relative to ``shared``, one per line (``\\n``-terminated):
    pins the exact file list without shipping it (the recipe records this, not the list)."""
    names = sorted(str(path.relative_to(shared)) for path in files)
    return hashlib.sha256("".join(name + "\n" for name in names).encode()).hexdigest()


def file_rule(lfw_images: int, seed: int, utkface: bool) -> dict[str, Any]:
    """The arguments of :func:`training_files` that regenerate a model's file list, as the recipe records them."""
    return {"function": f"{__name__}.training_files", "lfw_images": lfw_images, "seed": seed, "utkface": utkface}


def files_per_folder(shared: Path, files: list[Path]) -> dict[str, int]:
    """Number of files per top folder under ``shared/data`` (faces, lfw, utkface)."""
    counts: dict[str, int] = {}
    for path in files:
        folder = path.relative_to(shared).parts[1]
        counts[folder] = counts.get(folder, 0) + 1
    return dict(sorted(counts.items()))


def regenerate_training_files(shared: Path, data: Mapping[str, Any], content: bool = False) -> tuple[list[Path], dict[str, bool]]:
    """The file list of a recipe's ``data`` section, rebuilt from its ``file_rule``, and which recorded
    values it reproduces: count, per-folder counts, names digest and (``content=True``, slower: every
    file is hashed) the content digest :func:`files_digest`."""
    rule = data["file_rule"]
    files = training_files(shared, int(rule["lfw_images"]), int(rule["seed"]), bool(rule["utkface"]))
    checks = {"files": len(files) == data["files"],
              "files_per_folder": files_per_folder(shared, files) == data["files_per_folder"],
              "file_names_sha256": file_names_sha256(shared, files) == data["file_names_sha256"]}
    if content:
        checks["files_sha256_digest"] = files_digest(files) == data["files_sha256_digest"]
    return files, checks
