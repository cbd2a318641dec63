"""Expanding CLI inputs (files, folders, globs) into a sorted list of media files."""
from __future__ import annotations

import glob
from pathlib import Path

from facetrust.errors import ImageNotFoundError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"})


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def expand_inputs(inputs: list[str], allow_video: bool = False) -> list[Path]:
    """Files are kept as given (any suffix); folders are walked recursively and
    globs expanded, keeping only image (and video) suffixes. Order is stable.

    Entries with a media suffix that are not regular files (a FIFO, a dangling link, a
    device) are kept too, so that reading them reports them one by one instead of
    skipping them silently; folders named like images are walked, not read."""
    wanted = IMAGE_SUFFIXES | (VIDEO_SUFFIXES if allow_video else frozenset())
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in wanted and not p.is_dir()))
        elif path.exists():
            found.append(path)
        elif glob.has_magic(item):
            matches = sorted(Path(p) for p in glob.glob(item, recursive=True))
            found.extend(p for p in matches if p.suffix.lower() in wanted and not p.is_dir())
        else:
            raise ImageNotFoundError(f"{item}: no such file or directory")
    if not found:
        raise ImageNotFoundError(f"no images found in {', '.join(inputs)}")
    return found
