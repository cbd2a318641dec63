"""Default components live in facetrust.defaults only: each names a registered component,
and the library, the server configuration and the CLI take their defaults from there."""
from __future__ import annotations

import inspect

from facetrust import defaults


def test_defaults_name_registered_components() -> None:
    from facetrust.detection import DETECTORS
    from facetrust.forensics import FORGERY_DETECTORS
    from facetrust.liveness import LIVENESS_MODELS
    from facetrust.quality import ASSESSORS
    from facetrust.recognition import RECOGNIZERS, load_calibration

    assert {defaults.DEFAULT_DETECTOR, defaults.DEFAULT_CHECK_DETECTOR} <= set(DETECTORS.names())
    assert defaults.DEFAULT_RECOGNIZER in RECOGNIZERS.names()
    assert defaults.DEFAULT_QUALITY_METHOD in ASSESSORS.names()
    assert defaults.DEFAULT_LIVENESS_MODEL in LIVENESS_MODELS.names()
    assert defaults.DEFAULT_FORGERY_DETECTOR in FORGERY_DETECTORS.names()
    calibration = load_calibration(defaults.DEFAULT_RECOGNIZER)
    assert calibration.min_fmr <= defaults.DEFAULT_FMR <= calibration.fmr[-1]


def test_server_config_is_the_analyzer_config_plus_serving_settings() -> None:
    from dataclasses import fields

    from facetrust.analyzer import AnalyzerConfig
    from facetrust.io.image import DEFAULT_MAX_PIXELS
    from facetrust.server.app import analyzer_config
    from facetrust.server.config import ServerConfig

    assert {f.name for f in fields(AnalyzerConfig)} <= {f.name for f in fields(ServerConfig)}
    assert analyzer_config(ServerConfig()) == AnalyzerConfig(max_pixels=DEFAULT_MAX_PIXELS)
    served = ServerConfig(detector="yunet", checks=("quality",), check_options={"quality": {"method": "explainable"}})
    assert analyzer_config(served) == AnalyzerConfig(detector="yunet", max_pixels=DEFAULT_MAX_PIXELS,
                                                     checks=("quality",),
                                                     check_options={"quality": {"method": "explainable"}})


def test_library_and_cli_defaults_come_from_one_place() -> None:
    from facetrust.analyzer import AnalyzerConfig
    from facetrust.cli import main
    from facetrust.forensics.checker import ForgeryChecker
    from facetrust.liveness.checker import LivenessChecker
    from facetrust.recognition.calibration import DEFAULT_FMR

    assert (AnalyzerConfig().detector, AnalyzerConfig().recognizer) == (defaults.DEFAULT_DETECTOR,
                                                                        defaults.DEFAULT_RECOGNIZER)
    assert DEFAULT_FMR == defaults.DEFAULT_FMR
    # The CLI leaves both to the preset (--preset, default DEFAULT_PRESET), which names the defaults.
    assert main.DetectorOpt.default is None and main.RecognizerOpt.default is None
    assert AnalyzerConfig(preset=None).preset == defaults.DEFAULT_PRESET
    liveness = inspect.signature(LivenessChecker).parameters
    assert (liveness["model"].default, liveness["detector"].default) == (defaults.DEFAULT_LIVENESS_MODEL,
                                                                         defaults.DEFAULT_CHECK_DETECTOR)
    forgery = inspect.signature(ForgeryChecker).parameters
    assert (forgery["detector"].default, forgery["face_detector"].default) == (defaults.DEFAULT_FORGERY_DETECTOR,
                                                                               defaults.DEFAULT_CHECK_DETECTOR)
