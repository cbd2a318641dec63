"""The contract every registered component meets, walked over every registry.

Adding a model is one file and one ``register`` line (docs/models.md); what else a
component needs it declares on its class, and this test holds every entry to that:
it imports, its class has the capability's protocol, the zoo models it declares exist
in the manifest with sha256 and licence, recognizers ship calibrated thresholds,
detectors say which nose point their landmarks hold. Cheap: no model is loaded except
for the small ones whose declared nose point is checked on a real photo.
"""
from __future__ import annotations

import inspect
import re
from typing import Any

import numpy as np
import pytest

from facetrust.attributes import ATTRIBUTE_MODELS, AttributeModel
from facetrust.checks import FACE_CHECKS, FaceCheck
from facetrust.detection import DETECTORS, Detector
from facetrust.forensics import FORGERY_DETECTORS, ForgeryDetector
from facetrust.gallery import BACKENDS, GalleryBackend
from facetrust.liveness import LIVENESS_MODELS, LivenessModel
from facetrust.pose import LANDMARK_MODELS, POSE_ESTIMATORS, LandmarkModel, PoseEstimator
from facetrust.privacy import PROTECTIONS, TemplateProtector
from facetrust.quality import ASSESSORS, QualityAssessor
from facetrust.recognition import RECOGNIZERS, Recognizer
from facetrust.registry import Registry

#: registry -> (protocol, the protocol's data members each class declares itself; the other
#: data members are per-instance state set by the constructor).
CONTRACTS: dict[str, tuple[Registry[Any], Any, tuple[str, ...]]] = {
    "detector": (DETECTORS, Detector, ("name", "provides_landmarks", "nose_point", "zoo_models")),
    "recognizer": (RECOGNIZERS, Recognizer, ("name", "dim", "metric", "calibration", "zoo_models")),
    "quality assessor": (ASSESSORS, QualityAssessor, ("name",)),
    "liveness model": (LIVENESS_MODELS, LivenessModel, ("name", "scales", "zoo_models")),
    "forgery detector": (FORGERY_DETECTORS, ForgeryDetector, ("name", "zoo_models")),
    "face check": (FACE_CHECKS, FaceCheck, ("name",)),
    "attribute model": (ATTRIBUTE_MODELS, AttributeModel, ("name", "zoo_models")),
    "pose estimator": (POSE_ESTIMATORS, PoseEstimator, ("name", "zoo_models", "OPTIONS")),
    "landmark model": (LANDMARK_MODELS, LandmarkModel, ("name", "zoo_models", "points", "OPTIONS")),
    "gallery backend": (BACKENDS, GalleryBackend, ()),
    "protection scheme": (PROTECTIONS, TemplateProtector, ("scheme",)),
}
ENTRIES = [(kind, entry.name) for kind, (registry, _, _) in CONTRACTS.items() for entry in registry.entries()]
SHA256 = re.compile(r"[0-9a-f]{64}")


def _class(kind: str, name: str) -> type:
    return CONTRACTS[kind][0].get_class(name)


def test_every_registry_is_walked() -> None:
    """A registry added to the package must be added to CONTRACTS too."""
    import pkgutil
    import importlib

    import facetrust

    found = set()
    for module in pkgutil.iter_modules(facetrust.__path__):
        if module.ispkg or module.name == "checks":
            package = importlib.import_module(f"facetrust.{module.name}")
            found |= {value.kind for value in vars(package).values() if isinstance(value, Registry)}
    assert found == set(CONTRACTS)


@pytest.mark.parametrize("kind,name", ENTRIES)
def test_entry_imports_and_has_the_protocol(kind: str, name: str) -> None:
    registry, protocol, declared = CONTRACTS[kind]
    entry = next(e for e in registry.entries() if e.name == name)
    assert entry.summary, f"{kind} {name!r} has no summary for `facetrust models list`"
    cls = _class(kind, name)
    assert inspect.isclass(cls)
    methods = [m for m, value in vars(protocol).items() if callable(value) and not m.startswith("_")]
    methods += ["__call__"] if "__call__" in vars(protocol) else []
    for method in methods:
        assert callable(getattr(cls, method, None)), f"{kind} {name!r} lacks {method}()"
        expected = list(inspect.signature(getattr(protocol, method)).parameters)
        actual = list(inspect.signature(getattr(cls, method)).parameters)
        assert actual[:len(expected)] == expected, f"{kind} {name!r}: {method}{tuple(actual)} != {tuple(expected)}"
    for member in declared:
        assert hasattr(cls, member), f"{kind} {name!r} does not declare {member}"
    own_name = inspect.getattr_static(cls, "scheme" if registry is PROTECTIONS else "name", None)
    if isinstance(own_name, str):
        assert own_name == name, f"{kind} registered as {name!r} calls itself {own_name!r}"


@pytest.mark.parametrize("kind,name", [(k, n) for k, n in ENTRIES if "zoo_models" in CONTRACTS[k][2]])
def test_declared_zoo_models_are_in_the_manifest_with_checksums_and_licence(kind: str, name: str) -> None:
    from facetrust.zoo import get_model

    zoo_models = _class(kind, name).zoo_models
    assert isinstance(zoo_models, tuple)
    for zoo in zoo_models:
        spec = get_model(zoo)  # ConfigError for a name missing from the manifest
        assert spec.license and spec.source and spec.input and isinstance(spec.commercial_use, bool)
        for file in spec.files:
            assert SHA256.fullmatch(file.sha256) and file.bytes > 0, f"{zoo}: {file.path}"


@pytest.mark.parametrize("name", RECOGNIZERS.names())
def test_recognizer_ships_calibrated_thresholds_and_a_model_identity(name: str) -> None:
    from facetrust.gallery import model_identity
    from facetrust.recognition.calibration import DEFAULT_FMR, load_calibration

    calibration = load_calibration(name)
    assert calibration.min_fmr <= DEFAULT_FMR <= calibration.fmr[-1]
    assert list(calibration.fmr) == sorted(calibration.fmr)
    assert list(calibration.threshold) == sorted(calibration.threshold, reverse=True)
    assert len(calibration.fnmr) == len(calibration.fmr) and calibration.impostor_pairs > 0
    # The gallery ties templates to the manifest entry named like the recognizer.
    cls = RECOGNIZERS.get_class(name)
    assert cls.zoo_models[0] == name
    identity = model_identity(name)
    assert identity.dim == cls.dim and SHA256.fullmatch(identity.sha256)


@pytest.mark.parametrize("name", DETECTORS.names())
def test_detector_declares_its_nose_point(name: str) -> None:
    from facetrust.detection.landmarks import NOSE_POINT_KINDS, SHAPE5_NOSE_POINT, nose_point_of
    from facetrust.zoo import get_model

    cls = DETECTORS.get_class(name)
    assert nose_point_of(name) in NOSE_POINT_KINDS
    if not cls.provides_landmarks:
        # The analyzer fills their landmarks with dlib's 5-point predictor.
        assert cls.nose_point == SHAPE5_NOSE_POINT
        assert get_model("dlib-shape5").files


class UndeclaredNoseDetector:
    """A new detector that gives landmarks but forgot to say which nose point they hold."""

    name = "undeclared"
    provides_landmarks = True
    zoo_models = ()

    def detect(self, image: np.ndarray) -> list:
        return []


def test_a_detector_without_a_declared_nose_point_fails_at_configuration(monkeypatch) -> None:
    from facetrust.detection.landmarks import nose_point_of
    from facetrust.errors import ConfigError
    from facetrust.quality.explainable import ExplainableQuality

    monkeypatch.setattr(DETECTORS, "_entries", dict(DETECTORS._entries))
    DETECTORS.register("undeclared", f"{__name__}:UndeclaredNoseDetector", "test only")
    try:
        with pytest.raises(ConfigError, match="does not declare which nose point"):
            ExplainableQuality(detector="undeclared")
    finally:
        nose_point_of.cache_clear()


def _nose_drop(landmarks: np.ndarray) -> float:
    """How far the nose landmark lies below the eye line, in eye distances (roll-corrected)."""
    points = landmarks.astype(np.float64)
    eyes = points[1] - points[0]
    distance = float(np.linalg.norm(eyes))
    cos, sin = eyes / distance
    offset = points[2] - (points[0] + points[1]) / 2
    return float(-offset[0] * sin + offset[1] * cos) / distance


def _small(name: str, limit: int = 5_000_000) -> bool:
    from facetrust.zoo import get_model

    return sum(f.bytes for zoo in DETECTORS.get_class(name).zoo_models for f in get_model(zoo).files) <= limit


@pytest.mark.parametrize("name", [n for n in DETECTORS.names() if DETECTORS.get_class(n).provides_landmarks and _small(n)]
                         + ["dlib-hog"])
def test_declared_nose_point_matches_the_landmarks_on_a_real_face(name: str, grace_hopper_path, shared) -> None:
    """The nose point a detector declares is the one of :data:`NOSE_POINTS` nearest to where
    its nose landmark actually lies (dlib-hog stands for every box-only detector: the
    analyzer gives them all dlib's 5-point landmarks)."""
    from facetrust import FaceAnalyzer
    from facetrust.detection.landmarks import nose_point_of
    from facetrust.quality.components import NOSE_POINTS

    face = FaceAnalyzer(detector=name).detect(grace_hopper_path)[0]
    drop = _nose_drop(face.landmarks)
    nearest = min(NOSE_POINTS, key=lambda kind: abs(NOSE_POINTS[kind][0] - drop))
    assert nose_point_of(name) == nearest, f"{name}: nose {drop:.2f} eye distances below the eyes"


@pytest.mark.parametrize("name", FORGERY_DETECTORS.names())
def test_forgery_score_cache_keys_cover_every_weight_file(name: str) -> None:
    from facetrust.forensics.cache import detector_version, weights_sha256

    cls = FORGERY_DETECTORS.get_class(name)
    digests = weights_sha256(name)
    assert digests and all(SHA256.fullmatch(d) for d in digests), f"{name} declares no weights"
    for member in getattr(cls, "default_members", ()):
        assert set(weights_sha256(member)) <= set(digests)
    assert detector_version(name).startswith(f"{name}@")


@pytest.mark.parametrize("name", ASSESSORS.names())
def test_quality_assessor_builds_with_its_shipped_calibration(name: str) -> None:
    from facetrust.quality import create_assessor

    # learned and stability ship models for dlib-resnet only (the default EdgeFace-XS has none yet).
    options = {"recognizer": "dlib-resnet"} if name in ("learned", "stability") else {}
    if name == "learned":
        options["detector"] = "dlib-hog"  # it reads dlib-hog's detector scores
    assessor = create_assessor(name, **options)  # loads calibration files only; recognizers load on first use
    assert isinstance(assessor, QualityAssessor) and 0 <= assessor.threshold <= 100
