"""Quality for callers: assess the faces of an image, gate enrolment, fuse templates by quality."""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Literal, Sequence

import numpy as np

from facetrust.defaults import DEFAULT_QUALITY_METHOD
from facetrust.errors import ConfigError, LowQualityError
from facetrust.io.image import ImageSource
from facetrust.quality.base import QualityAssessor, QualityResult
from facetrust.types import Face

if TYPE_CHECKING:
    from facetrust.analyzer import FaceAnalyzer

#: Which pipeline settings each method takes from the analyzer it runs with.
_FROM_ANALYZER = {"explainable": ("detector",), "stability": ("recognizer",), "learned": ("recognizer", "detector")}


def default_method(recognizer: str, detector: str | None = None) -> str:
    """``learned`` where a model for the recognizer (and, if it reads detector scores, for
    ``detector``) ships, else the model-free ``explainable``."""
    from facetrust.quality.calibration import load_quality_calibration
    from facetrust.quality.learned import model_trained_for_other_detector

    try:
        extra = load_quality_calibration("learned", recognizer).extra
    except ConfigError:
        return "explainable"
    if detector is not None and model_trained_for_other_detector(extra, detector):
        return "explainable"
    return "learned"


def create_assessor(method: str | None = None, analyzer: "FaceAnalyzer | None" = None, **options: Any) -> QualityAssessor:
    """An assessor by registry name, matched to ``analyzer``'s detector and recognizer when given;
    ``method=None``: :func:`default_method` for the analyzer (``learned`` without one)."""
    from facetrust.quality import ASSESSORS

    if method is None:
        method = (default_method(analyzer.config.recognizer, analyzer.config.detector) if analyzer is not None
                  else DEFAULT_QUALITY_METHOD)
    ASSESSORS.get_class(method)
    if analyzer is not None:
        for setting in _FROM_ANALYZER.get(method, ()):
            options.setdefault(setting, getattr(analyzer.config, setting))
    return ASSESSORS.create(method, **options)


def assess_faces(image: np.ndarray, faces: Sequence[Face], assessor: QualityAssessor) -> list[QualityResult]:
    """Quality of each face of an RGB uint8 image; also stored in ``face.extras["quality"]``."""
    results = []
    for face in faces:
        result = assessor.assess(image, face)
        face.extras["quality"] = result.to_dict()
        results.append(result)
    return results


def assess(source: ImageSource, method: str | None = None, analyzer: "FaceAnalyzer | None" = None,
           **options: Any) -> list[tuple[Face, QualityResult]]:
    """Detect the faces of an image (largest first) and assess each; the default analyzer if none is given
    (``method=None``: :func:`default_method` for the analyzer)."""
    import facetrust

    analyzer = analyzer or facetrust.default_analyzer()
    assessor = create_assessor(method, analyzer, **options)
    image = analyzer.load(source)
    faces = analyzer.analyze_rgb(image, embed=assessor.name == "learned")
    return list(zip(faces, assess_faces(image, faces, assessor)))


def check_enrolment(result: QualityResult, policy: Literal["reject", "warn", "off"] = "reject") -> QualityResult:
    """The enrolment gate: below the result's threshold, raise (``reject``), warn (``warn``) or pass (``off``)."""
    if policy not in ("reject", "warn", "off"):
        raise ConfigError(f"quality policy must be 'reject', 'warn' or 'off', got {policy!r}")
    if result.acceptable or policy == "off":
        return result
    why = ", ".join(result.reasons) or "low quality"
    message = f"face quality {result.score:.1f} is below the {result.method} threshold {result.threshold:.1f} ({why})"
    if policy == "reject":
        raise LowQualityError(message)
    warnings.warn(message, stacklevel=2)
    return result


def fuse_embeddings(embeddings: np.ndarray, scores: Sequence[float], floor: float = 1.0) -> np.ndarray:
    """One template from several L2-normalised embeddings of a person, weighted by quality.

    Weight = max(score, ``floor``) on the 0..100 scale, so a poor sample still
    counts a little and all-zero scores fall back to the plain mean. Returns
    the L2-normalised weighted mean.
    """
    vectors = np.atleast_2d(np.asarray(embeddings, dtype=np.float64))
    weights = np.maximum(np.asarray(scores, dtype=np.float64), floor)
    if len(vectors) == 0 or len(weights) != len(vectors):
        raise ConfigError(f"need one quality score per embedding (got {len(weights)} scores, {len(vectors)} embeddings)")
    if not np.all(np.isfinite(vectors)) or not np.all(np.isfinite(weights)):
        raise ConfigError("embeddings and quality scores must be finite")
    mean = weights @ vectors / weights.sum()
    norm = np.linalg.norm(mean)
    if norm < 1e-12:
        raise ConfigError("the embeddings cancel out: cannot fuse them into a template")
    return (mean / norm).astype(np.float32)
