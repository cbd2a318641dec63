"""Where a run's per-input outputs go (annotated copies, face crops) and writing them atomically.

The path rule: each input keeps its path relative to the deepest folder common to all
inputs of the run (taken on absolute paths), under the output folder. ``a/x.jpg`` and
``b/x.jpg`` therefore land at ``OUT/a/x…`` and ``OUT/b/x…`` and never overwrite each
other, whether the inputs were given as files, folders, globs or absolute paths; a single
input lands directly in ``OUT``.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from facetrust.errors import OutputError

#: Input suffixes whose format outputs keep (Pillow format names). Anything else (GIF's
#: palette, grayscale PGM, PPM, a file without a suffix) is written as PNG.
KEPT_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".bmp": "BMP",
                ".tif": "TIFF", ".tiff": "TIFF"}
#: Encoder settings: lossy formats at high quality, the rest lossless.
_SAVE_OPTIONS = {"JPEG": {"quality": 95}, "WEBP": {"quality": 95}}


def prepare_out_dir(out_dir: Path, label: str) -> None:
    """Create ``out_dir``; :class:`OutputError` (``label``, e.g. "--out DIR", starts the message)
    when it is a file, cannot be created or is not writable."""
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{label}: is a file, not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{label}: cannot create the folder ({exc.strerror or exc})") from None
    if not os.access(out_dir, os.W_OK):
        raise OutputError(f"{label}: the folder is not writable")


def relative_targets(inputs: Sequence[Path], out_dir: Path) -> dict[Path, Path]:
    """Each input's path under ``out_dir`` by the module's rule (same file name, no format change)."""
    if not inputs:
        return {}
    absolute = [Path(os.path.abspath(p)) for p in inputs]
    common = Path(os.path.commonpath([p.parent for p in absolute]))
    return {Path(given): out_dir / path.relative_to(common) for given, path in zip(inputs, absolute)}


def copy_targets(inputs: Sequence[Path], out_dir: Path, label: str) -> dict[Path, Path]:
    """Where each input's processed copy (annotated, anonymised) goes: its path by
    :func:`relative_targets`, in the input's format when it is one of :data:`KEPT_FORMATS`,
    else PNG with ``.png`` appended to the name (``x.gif`` -> ``x.gif.png``, never the same
    file as ``x.png``'s copy). Creates ``out_dir``; :class:`OutputError` (starting with
    ``label``) when it cannot be a folder or when a copy would replace an input."""
    prepare_out_dir(out_dir, label)
    targets: dict[Path, Path] = {}
    for given, target in relative_targets(inputs, out_dir).items():
        if output_suffix(target) != target.suffix.lower():
            target = target.with_name(target.name + ".png")
        if target.exists() and target.resolve() == Path(given).resolve():
            raise OutputError(f"{label}: the copy of {given} would replace it; choose another folder")
        targets[given] = target
    return targets


def output_suffix(path: Path) -> str:
    """The suffix an output derived from ``path`` gets: the input's own when its format is kept, else .png."""
    suffix = path.suffix.lower()
    return suffix if suffix in KEPT_FORMATS else ".png"


def write_image(rgb: np.ndarray, target: Path) -> Path:
    """Write an RGB image to ``target`` atomically (a temporary file in the same folder, then a
    rename), in the format its suffix names (PNG for any other suffix); :class:`OutputError`
    when it cannot be written."""
    from PIL import Image

    image_format = KEPT_FORMATS.get(target.suffix.lower(), "PNG")
    picture = Image.fromarray(np.ascontiguousarray(rgb))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                picture.save(out, image_format, **_SAVE_OPTIONS.get(image_format, {}))
            os.replace(temporary, target)
        except BaseException:
            os.unlink(temporary)
            raise
    except (OSError, ValueError) as exc:
        raise OutputError(f"cannot write {target}: {getattr(exc, 'strerror', None) or exc}") from None
    return target
