"""Work done inside the inference processes: decode the upload, run the models.

Each process builds one :class:`FaceAnalyzer` (and the configured extras) when it
starts and keeps it for its lifetime; requests only send image bytes in and get
faces out. Errors are facetrust exceptions, which pickle back to the server.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from facetrust.analyzer import AnalyzerConfig, FaceAnalyzer, FaceSelection, select_face
from facetrust.errors import FaceNotFoundError, FacetrustError, MultipleFacesError
from facetrust.types import Face, Verification

_analyzer: FaceAnalyzer | None = None
_extras: list[Any] = []
#: Why the models could not be loaded; raised by every task, so it reaches the server as is.
_init_error: FacetrustError | None = None


@dataclass
class ImageFaces:
    width: int
    height: int
    faces: list[Face]


def init_worker(config: AnalyzerConfig, extras: tuple[str, ...]) -> None:
    """Load every model now, so the first request does not pay for it."""
    global _analyzer, _extras, _init_error
    from facetrust.server.extras import build_extras

    try:
        _analyzer = FaceAnalyzer(config)
        _analyzer.detector, _analyzer.recognizer  # noqa: B018 - properties load the models
        _extras = build_extras(extras)
    except FacetrustError as exc:
        _init_error = exc


def ready() -> int:
    """A no-op task: returns the worker's pid once its models are loaded."""
    _get()
    return os.getpid()


def _get() -> FaceAnalyzer:
    if _init_error is not None:
        raise _init_error
    assert _analyzer is not None, "init_worker did not run"
    return _analyzer


def _with_extras(image: Any, faces: list[Face]) -> list[Face]:
    for extra in _extras:
        extra(image, faces)
    return faces


def analyze(data: bytes, embed: bool, with_extras: bool = True) -> ImageFaces:
    analyzer = _get()
    image = analyzer.load(data)
    faces = analyzer.analyze_rgb(image, embed=embed)
    if with_extras:
        _with_extras(image, faces)
    return ImageFaces(image.shape[1], image.shape[0], faces)


def embed_one(data: bytes, select: FaceSelection = "largest") -> tuple[Face, int]:
    """The selected face, with its embedding, and the number of faces in the image."""
    analyzer = _get()
    image = analyzer.load(data)
    faces = analyzer.analyze_rgb(image)
    if not faces:
        raise FaceNotFoundError("no face found in the image")
    chosen = faces[select_face(faces, select, image.shape)]
    _with_extras(image, [chosen])
    return chosen, len(faces)


def enrolment_face(data: bytes, select: FaceSelection | None = None, min_score: float | None = None) -> Face:
    """The face to enrol: the only one (above ``min_score``), or the one ``select`` picks.
    Several faces without ``select`` is an error, as in :meth:`Gallery.enroll`."""
    analyzer = _get()
    image = analyzer.load(data)
    faces = [f for f in analyzer.analyze_rgb(image) if min_score is None or f.score >= min_score]
    if not faces:
        raise FaceNotFoundError("no face found in the image")
    if len(faces) > 1 and select is None:
        raise MultipleFacesError(f"{len(faces)} faces found; enrolment needs exactly one (or choose with select)")
    return faces[select_face(faces, select or "largest", image.shape)]


def verify(data_a: bytes, data_b: bytes, fmr: float | None, select: FaceSelection) -> Verification:
    analyzer = _get()
    image_a, image_b = analyzer.load(data_a), analyzer.load(data_b)
    result = analyzer.verify(image_a, image_b, fmr=fmr, select=select)
    _with_extras(image_a, [result.face_a])
    _with_extras(image_b, [result.face_b])
    return result
