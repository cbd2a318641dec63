"""Per-face checks the analyzer runs after detection and embedding: quality, liveness, forgery.

A check is built once per analyzer (it receives the analyzer, so it can reuse its detector
and recognizer) and, called with the RGB image and the faces found in it, stores a
JSON-ready result in ``face.extras[check.name]``. ``Face.to_dict`` carries it into every
answer that lists faces: the API, ``facetrust analyze --check …`` and the server.

Adding a capability's check is one file and one ``FACE_CHECKS.register`` line. A spec may
also be an import path ``"package.module:Class"`` (a plugin outside facetrust); such a
class is built with ``analyzer=`` when its constructor takes it, else with no argument.
"""
from __future__ import annotations

import importlib
import inspect
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from facetrust.errors import ConfigError
from facetrust.registry import Registry, validate_options
from facetrust.types import Face

if TYPE_CHECKING:
    from facetrust.analyzer import FaceAnalyzer


class FaceCheck(Protocol):
    #: Key under which the result appears in each face's extras and JSON.
    name: str

    def __call__(self, image: np.ndarray, faces: list[Face]) -> None:
        """Set ``face.extras[self.name]`` on every face (faces may be empty)."""

    # Optional: ``aggregate(results: list[dict]) -> dict`` turns the per-frame results of one
    # video face track into one result (see :func:`facetrust.video.analyze_video`);
    # ``load_models()`` loads the check's own models now (see FaceAnalyzer.load_models).


FACE_CHECKS: Registry[FaceCheck] = Registry("face check")
FACE_CHECKS.register("quality", "facetrust.quality.check:QualityCheck",
                     "face image quality in [0, 100] with components and reasons (docs/quality.md)")
FACE_CHECKS.register("liveness", "facetrust.liveness.check:LivenessCheck",
                     "presentation-attack detection, P(live) and decision (docs/liveness.md; model zoo)")
FACE_CHECKS.register("forgery", "facetrust.forensics.check:ForgeryCheck",
                     "deepfake / face-forgery P(fake) and decision (docs/forensics.md; model zoo)")
FACE_CHECKS.register("attributes", "facetrust.attributes.check:AttributesCheck",
                     "age, gender, eye state; expression on request (docs/attributes.md)")
FACE_CHECKS.register("pose", "facetrust.pose.check:PoseCheck",
                     "head pose: yaw, pitch, roll in degrees (docs/pose.md; model zoo)")


def check_class(spec: str) -> type[FaceCheck]:
    """The class for a registry name or a ``module:Class`` path; ConfigError if unknown."""
    if spec in FACE_CHECKS.names() or ":" not in spec:
        return FACE_CHECKS.get_class(spec)
    module_name, _, attr = spec.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"face check {spec!r} cannot be imported ({exc})") from None


def check_options(spec: str, options: dict[str, Any] | None = None) -> type[FaceCheck]:
    """The check's class, after checking ``options`` against its declared types and ranges
    (before the analyzer it needs exists)."""
    cls = check_class(spec)
    validate_options(cls, options or {}, f"face check {spec!r}", partial=True)
    return cls


def create_check(spec: str, analyzer: "FaceAnalyzer", options: dict[str, Any] | None = None) -> FaceCheck:
    cls = check_class(spec)
    options = dict(options or {})
    if "analyzer" in inspect.signature(cls).parameters:
        options["analyzer"] = analyzer
    validate_options(cls, options, f"face check {spec!r}")
    return cls(**options)


def mean_decision(results: list[dict[str, Any]], above: str, below: str) -> dict[str, Any]:
    """One decision for a face track: the mean ``score`` of the frames that have one, ``above``
    when it reaches the (shared) threshold, else ``below``; frames without a score are counted."""
    scored = [r for r in results if r.get("score") is not None]
    out: dict[str, Any] = {"frames": len(results), "unavailable_frames": len(results) - len(scored)}
    if not scored:
        reasons = sorted({r.get("reason", "no score") for r in results})
        codes = sorted({r["reason_code"] for r in results if r.get("reason_code")})
        return {"status": "unavailable", "score": None, **out, "reason": "; ".join(reasons), "reason_codes": codes}
    score = float(np.mean([r["score"] for r in scored]))
    threshold = float(scored[0]["threshold"])
    return {"status": above if score >= threshold else below, "score": round(score, 6), "threshold": threshold,
            "min_score": round(min(r["score"] for r in scored), 6),
            "max_score": round(max(r["score"] for r in scored), 6), **out}
