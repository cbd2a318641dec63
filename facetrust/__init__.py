"""facetrust: trustworthy face analysis.

``import facetrust`` is cheap: models and their libraries (dlib,
onnxruntime, OpenCV) load when a component is first used.

>>> import facetrust
>>> faces = facetrust.analyze("photo.jpg")             # doctest: +SKIP
>>> facetrust.verify("a.jpg", "b.jpg").same             # doctest: +SKIP
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from facetrust.errors import FacetrustError

__version__ = "0.1.0"

if TYPE_CHECKING:
    from facetrust.analyzer import AnalyzerConfig, Embeddings, FaceAnalyzer
    from facetrust.types import Detection, Face, Verification

_LAZY = {
    "FaceAnalyzer": "facetrust.analyzer",
    "AnalyzerConfig": "facetrust.analyzer",
    "Embeddings": "facetrust.analyzer",
    "Face": "facetrust.types",
    "Detection": "facetrust.types",
    "Verification": "facetrust.types",
    "LANDMARK_ORDER": "facetrust.types",
    "load_image": "facetrust.io.image",
}

_default: Any = None


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'facetrust' has no attribute {name!r}")


def default_analyzer() -> "FaceAnalyzer":
    """The shared analyzer of the default preset (YuNet + EdgeFace-XS, shipped in the package)."""
    global _default
    if _default is None:
        from facetrust.analyzer import FaceAnalyzer

        _default = FaceAnalyzer()
    return _default


def analyze(source: Any, **kwargs: Any) -> list["Face"]:
    return default_analyzer().analyze(source, **kwargs)


def detect(source: Any) -> list["Face"]:
    return default_analyzer().detect(source)


def embed(sources: Any, **kwargs: Any) -> "Embeddings":
    return default_analyzer().embed(sources, **kwargs)


def verify(source_a: Any, source_b: Any, **kwargs: Any) -> "Verification":
    return default_analyzer().verify(source_a, source_b, **kwargs)


__all__ = [
    "AnalyzerConfig", "Detection", "Embeddings", "Face", "FaceAnalyzer", "FacetrustError", "LANDMARK_ORDER",
    "Verification", "analyze", "default_analyzer", "detect", "embed", "load_image", "verify",
]
