"""Work done inside the inference processes: decode the upload, run the models.

Each process builds one :class:`FaceAnalyzer` (with its configured checks) when it
starts and keeps it for its lifetime; requests only send image bytes in and get
faces out. Errors are facetrust exceptions, which pickle back to the server.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from facetrust.analyzer import AnalyzerConfig, FaceAnalyzer, FaceSelection, VerifySelection, select_face
from facetrust.errors import FaceNotFoundError, FacetrustError
from facetrust.gallery.enrolment import EnrolmentFace, prepare_face
from facetrust.types import Face, Verification

_analyzer: FaceAnalyzer | None = None
#: Why the models could not be loaded; raised by every task, so it reaches the server as is.
_init_error: FacetrustError | None = None


@dataclass
class ImageFaces:
    width: int
    height: int
    faces: list[Face]


def init_worker(config: AnalyzerConfig) -> None:
    """Load every model now, so the first request does not pay for it."""
    global _analyzer, _init_error
    try:
        _analyzer = FaceAnalyzer(config)
        _analyzer.load_models()
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


def analyze(data: bytes, embed: bool, checks: bool = True) -> ImageFaces:
    analyzer = _get()
    image = analyzer.load(data)
    faces = analyzer.analyze_rgb(image, embed=embed, checks=checks)
    return ImageFaces(image.shape[1], image.shape[0], faces)


def embed_one(data: bytes, select: FaceSelection = "largest") -> tuple[Face, int]:
    """The selected face, with its embedding, and the number of faces in the image."""
    analyzer = _get()
    image = analyzer.load(data)
    faces = analyzer.analyze_rgb(image, checks=False)
    if not faces:
        raise FaceNotFoundError("no face found in the image")
    chosen = analyzer.run_checks(image, [faces[select_face(faces, select, image.shape)]])[0]
    return chosen, len(faces)


def enrolment_face(data: bytes, select: FaceSelection | None = None, min_score: float | None = None,
                   source: str | None = None) -> EnrolmentFace:
    """The face to enrol, prepared as :meth:`Gallery.enroll` prepares it (one library function:
    selection rule, embedding, quality); the server's gallery gates and stores it."""
    return prepare_face(_get(), data, select=select, min_score=min_score, source=source)


def verify(data_a: bytes, data_b: bytes, fmr: float | None, select: VerifySelection) -> Verification:
    analyzer = _get()
    return analyzer.verify(analyzer.load(data_a), analyzer.load(data_b), fmr=fmr, select=select)
