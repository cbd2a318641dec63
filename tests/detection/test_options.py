"""Every registered component declares the type and range of each constructor option, and
the registry refuses values outside them before any model loads."""
from __future__ import annotations

import inspect

import pytest

from facetrust.checks import FACE_CHECKS
from facetrust.detection import DETECTORS
from facetrust.errors import ConfigError
from facetrust.pose import LANDMARK_MODELS, POSE_ESTIMATORS
from facetrust.quality import ASSESSORS
from facetrust.recognition import RECOGNIZERS
from facetrust.registry import Option

REGISTRIES = (DETECTORS, RECOGNIZERS, FACE_CHECKS, ASSESSORS, POSE_ESTIMATORS, LANDMARK_MODELS)


@pytest.mark.parametrize("registry, name", [(r, n) for r in REGISTRIES for n in r.names()])
def test_every_option_is_declared_and_its_default_accepted(registry, name):
    cls = registry.get_class(name)
    declared = getattr(cls, "OPTIONS", None)
    assert declared is not None, f"{registry.kind} {name!r} declares no OPTIONS"
    for parameter in inspect.signature(cls).parameters.values():
        if parameter.name == "analyzer" or parameter.kind is inspect.Parameter.VAR_KEYWORD:
            continue  # the analyzer is handed over by create_check; **options go to a checked component
        assert parameter.name in declared, f"{registry.kind} {name!r}: option {parameter.name!r} is not declared"
        assert declared[parameter.name].accepts(parameter.default), (name, parameter.name, parameter.default)
    assert set(declared) <= set(inspect.signature(cls).parameters)


def test_option_kinds_and_ranges():
    upsample = Option(int, 0, 2, optional=True)
    assert [upsample.accepts(v) for v in (0, 2, None, 3, -1, 1.0, True, "1")] == [True] * 3 + [False] * 5
    score = Option(float, 0.0, 1.0)
    assert [score.accepts(v) for v in (0, 0.5, 1, float("nan"), float("inf"), 1.01, False)] == [True] * 3 + [False] * 4
    assert Option(bool).accepts(False) and not Option(bool).accepts(0)


def test_registry_refuses_bad_values_before_loading():
    with pytest.raises(ConfigError, match="bad option for detector 'yunet': top_k must be an integer from 1 to 100000, got 0"):
        DETECTORS.create("yunet", top_k=0)
    with pytest.raises(ConfigError, match="upsample"):
        DETECTORS.check_options("dlib-hog", {"upsample": 10**9})
    from facetrust import FaceAnalyzer

    with pytest.raises(ConfigError, match="num_jitters"):
        FaceAnalyzer(recognizer_options={"num_jitters": -1})
    with pytest.raises(ConfigError, match="face check 'liveness': threshold"):
        FaceAnalyzer(checks=("liveness",), check_options={"liveness": {"threshold": 1.5}})
