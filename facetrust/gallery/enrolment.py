"""Enrolment: the one way from an image to a stored template, for every surface.

:func:`prepare_face` decodes the image, applies the face selection rule (the only
face, or the one ``select`` picks; several faces without ``select`` are refused),
embeds the face and assesses its quality. It runs where the models are: in the
caller's process for :meth:`Gallery.enroll <facetrust.gallery.Gallery.enroll>` and
the CLI, in an inference worker for the REST and CompreFace routes, which pass the
:class:`EnrolmentFace` it returns to the gallery. The gallery then applies the quality
gate (:func:`gate`) to all faces of one call and stores their template records.
"""
from __future__ import annotations

import os
import warnings
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence, Union

import numpy as np

from facetrust.errors import FaceNotFoundError, FaceQualityError, LowQualityError, MultipleFacesError
from facetrust.gallery.base import LowQualityWarning, NewTemplate, QualityPolicy
from facetrust.types import Face

if TYPE_CHECKING:
    from facetrust.analyzer import FaceAnalyzer, FaceSelection
    from facetrust.detection.base import Detection
    from facetrust.io.image import ImageSource
    from facetrust.quality import QualityAssessor

#: ``prepare_face(quality=…)``: a registry name, an assessor, None (the default method for the
#: analyzer's recognizer and detector) or False (not assessed: the caller stores its own values).
QualityChoice = Union[str, "QualityAssessor", None, bool]

_assessors: "weakref.WeakKeyDictionary[FaceAnalyzer, dict[str, QualityAssessor]]" = weakref.WeakKeyDictionary()


@dataclass
class EnrolmentFace:
    """One image's chosen face, ready to be stored: the template record before the quality gate.

    ``problem`` says why the face fails the quality gate (None: it passes, or was not assessed).
    Picklable: inference workers return it to the server process."""

    vector: np.ndarray
    box: tuple[float, float, float, float]
    detector: str
    recognizer: str
    source: str | None = None
    quality: float | None = None
    quality_method: str | None = None
    problem: str | None = None
    label: str = "the image"

    def template(self) -> NewTemplate:
        return NewTemplate(self.vector, self.quality, self.source, self.quality_method, self.detector,
                           tuple(round(float(v), 2) for v in self.box))  # type: ignore[arg-type]


def assessor_for(analyzer: "FaceAnalyzer", method: str | None = None) -> "QualityAssessor":
    """The quality assessor ``method`` (default: :func:`facetrust.quality.default_method` for the
    analyzer's recognizer and detector), built once per analyzer."""
    from facetrust.quality import create_assessor, default_method

    name = method or default_method(analyzer.config.recognizer, analyzer.config.detector)
    cache = _assessors.setdefault(analyzer, {})
    if name not in cache:
        cache[name] = create_assessor(name, analyzer)
    return cache[name]


def choose_face(faces: Sequence["Face | Detection"], select: "FaceSelection | None", shape: tuple[int, ...],
                label: str = "the image") -> int:
    """The selection rule of enrolment: the only face, or the one ``select`` picks. No face, or
    several without ``select``, is an error that says what to do."""
    from facetrust.analyzer import select_face

    if not faces:
        raise FaceNotFoundError(f"no face found in {label}")
    if len(faces) > 1 and select is None:
        raise MultipleFacesError(f"{len(faces)} faces found in {label}; enrolment needs exactly one: choose one "
                                 "with select='center' (CLI: --select center), 'largest', 'best' or a face index")
    return select_face(faces, select or "largest", shape)


def assess(assessor: "QualityAssessor", rgb: np.ndarray, face: Face) -> tuple[float, str | None]:
    """(quality score, why the face fails the enrolment gate or None)."""
    from facetrust.quality import check_enrolment

    try:
        result = assessor.assess(rgb, face)
    except FaceQualityError as exc:
        return 0.0, str(exc)  # nothing measurable (eyes < 4 px apart): worthless as a template
    try:
        check_enrolment(result, "reject")
    except LowQualityError as exc:
        return result.score, str(exc)
    return result.score, None


def prepare_face(analyzer: "FaceAnalyzer", image: "ImageSource", *, select: "FaceSelection | None" = None,
                 quality: QualityChoice = None, source: str | None = None, min_score: float | None = None,
                 ) -> EnrolmentFace:
    """Decode ``image``, choose its face (:func:`choose_face`; faces scoring below ``min_score``
    are ignored), embed it and assess its quality (see :data:`QualityChoice`). ``source`` is
    stored with the template: by default the path of a file given by path."""
    is_path = isinstance(image, (str, os.PathLike))
    label = str(image) if is_path else (source or "the image")
    rgb = analyzer.load(image)
    detections = [d for d in analyzer.detect_rgb(rgb) if min_score is None or d.score >= min_score]
    chosen = detections[choose_face(detections, select, rgb.shape, label)]
    face = Face(chosen.box, chosen.score, chosen.landmarks)
    face.embedding = analyzer.recognizer.embed_aligned([analyzer.recognizer.align(rgb, chosen)])[0]
    out = EnrolmentFace(face.embedding, tuple(float(v) for v in chosen.box), analyzer.config.detector,  # type: ignore[arg-type]
                        analyzer.config.recognizer, source if source is not None else (str(image) if is_path else None),
                        label=label)
    if quality is not False:
        assessor = quality if not isinstance(quality, (str, type(None), bool)) else assessor_for(analyzer, quality)
        out.quality, out.problem = assess(assessor, rgb, face)  # the learned assessor reuses face.embedding
        out.quality_method = assessor.name
    return out


def gate(faces: Sequence[EnrolmentFace], policy: QualityPolicy) -> list[NewTemplate]:
    """The quality gate over the faces of one enrolment call: faces below the threshold raise
    :class:`LowQualityError` naming every refused image (``reject``), warn (``warn``) or pass (``off``)."""
    refused = [f"{face.label}: {face.problem}" for face in faces if face.problem is not None]
    if refused and policy == "reject":
        raise LowQualityError(f"enrolment refused, {len(refused)} of {len(faces)} image(s) below the quality "
                              f"threshold: {'; '.join(refused)}")
    if policy == "warn":
        for message in refused:
            warnings.warn(LowQualityWarning(f"enrolled despite low quality: {message}"), stacklevel=4)
    return [face.template() for face in faces]

