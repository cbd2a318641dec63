"""Drawing detected faces (box, 5 landmarks, score) onto a copy of the image, and writing
the copies of a run's inputs under one output folder."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from facetrust.errors import OutputError
from facetrust.types import Face

#: One colour per landmark in LANDMARK_ORDER (RGB).
_LANDMARK_COLOURS = [(255, 64, 64), (64, 255, 64), (64, 128, 255), (255, 255, 0), (255, 0, 255)]


def draw_faces(image: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
    import cv2

    canvas = np.ascontiguousarray(image.copy())
    thickness = max(1, round(max(image.shape[:2]) / 400))
    for face in faces:
        x1, y1, x2, y2 = (int(round(v)) for v in face.box)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), (0, 255, 0), thickness)
        cv2.putText(canvas, f"{face.score:.2f}", (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4 * thickness, (0, 255, 0), thickness, cv2.LINE_AA)
        for (x, y), colour in zip(face.landmarks, _LANDMARK_COLOURS):
            cv2.circle(canvas, (int(round(x)), int(round(y))), thickness + 1, colour, -1, cv2.LINE_AA)
    return canvas


def annotation_targets(inputs: Sequence[Path], out_dir: Path) -> dict[Path, Path]:
    """Where each input's annotated copy goes: its path relative to the inputs' common folder,
    under ``out_dir``, so that ``a/x.jpg`` and ``b/x.jpg`` never write the same file; same
    format as the input (PNG for a suffix Pillow cannot write). Creates ``out_dir``; raises
    :class:`OutputError` when it cannot be a folder or when a copy would replace an input."""
    from PIL import Image

    _make_folder(out_dir)
    if not inputs:
        return {}
    absolute = [Path(os.path.abspath(p)) for p in inputs]
    common = Path(os.path.commonpath([p.parent for p in absolute]))
    writable = Image.registered_extensions()
    targets: dict[Path, Path] = {}
    for given, path in zip(inputs, absolute):
        target = out_dir / path.relative_to(common)
        if writable.get(target.suffix.lower()) not in Image.SAVE:
            target = target.with_name(target.name + ".png")
        if target.exists() and target.resolve() == path.resolve():
            raise OutputError(f"--annotate {out_dir}: the annotated copy of {given} would replace it; "
                              "choose another folder")
        targets[Path(given)] = target
    return targets


def save_annotated(image: np.ndarray, faces: Sequence[Face], target: Path) -> Path:
    """Write ``image`` with ``faces`` drawn to ``target`` atomically (a temporary file, then a
    rename), in the format its suffix names; :class:`OutputError` if it cannot be written."""
    from PIL import Image

    picture = Image.fromarray(draw_faces(image, faces))
    extension = Image.registered_extensions().get(target.suffix.lower(), "PNG")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                picture.save(out, extension, **({"quality": 95} if extension == "JPEG" else {}))
            os.replace(temporary, target)
        except BaseException:
            os.unlink(temporary)
            raise
    except (OSError, ValueError) as exc:
        raise OutputError(f"cannot write {target}: {getattr(exc, 'strerror', None) or exc}") from None
    return target


def _make_folder(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--annotate {out_dir}: is a file, not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"--annotate {out_dir}: cannot create the folder ({exc.strerror or exc})") from None
    if not os.access(out_dir, os.W_OK):
        raise OutputError(f"--annotate {out_dir}: the folder is not writable")
