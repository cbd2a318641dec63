"""Named presets: a detector + recognizer pair (with options) chosen for one purpose.

``FaceAnalyzer(preset="fast")``, ``--preset fast`` on the CLI and ``preset = "fast"`` in
the server config all select one; an explicit detector or recognizer overrides the preset's.
Whether a preset is clean for commercial use is derived from the zoo manifest licences of
every model it loads, never written by hand. The default is
:data:`facetrust.defaults.DEFAULT_PRESET`; its two models ship inside the package.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from facetrust.defaults import DEFAULT_PRESET
from facetrust.errors import ConfigError


@dataclass(frozen=True)
class Preset:
    name: str
    detector: str
    recognizer: str
    #: One line: what the preset is for.
    purpose: str
    detector_options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    recognizer_options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    #: Detector whose faces the liveness and forgery checks read (AnalyzerConfig.check_detector);
    #: None: the preset's detector.
    check_detector: str | None = None

    @property
    def models(self) -> tuple[str, ...]:
        """Zoo names of every model the preset may load (detector, landmarks, recognizer members, then
        the check detector, which loads with a liveness or forgery check)."""
        checks = detector_models(self.check_detector) if self.check_detector else ()
        return tuple(dict.fromkeys(detector_models(self.detector) + _recognizer_models(self.recognizer) + checks))

    @property
    def commercial_use(self) -> bool:
        """True when every model's manifest licence allows commercial use."""
        from facetrust.zoo import get_model

        return all(get_model(name).commercial_use for name in self.models)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "detector": self.detector, "recognizer": self.recognizer,
                "check_detector": self.check_detector, "purpose": self.purpose,
                "commercial_use": self.commercial_use, "models": list(self.models), "default": self.name == DEFAULT_PRESET}


#: The most accurate licence-clean fusion; its membership follows the LFW fusion measurements
#: (docs/recognition.md), so changing it is this one line.
ACCURATE_RECOGNIZER = "fusion:edgeface-xs+reid-0095"
#: The most accurate fusion overall, with a non-commercial member: zoo-only, never a default.
ACCURATE_NC_RECOGNIZER = "fusion:edgeface-xs+reid-0095+w600k-mbf"

PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("fast", "yunet", "edgeface-xxs", "the most images per second; EdgeFace-XXS, 512-d"),
    # YuNet finds the faces, RetinaFace places their landmarks (identification on LFW 95.27% against
    # 94.86% on YuNet's landmarks); liveness and forgery read YuNet's own faces, as they were measured
    # (docs/detection.md, "YuNet finds, RetinaFace places the landmarks").
    Preset("balanced", "yunet-retinaface", "edgeface-xs", "the default: fast and strong, every model ships in the package",
           check_detector="yunet"),
    Preset("accurate", "yunet", ACCURATE_RECOGNIZER,
           "the best commercial-use clean accuracy: score fusion (zoo files; reid-0095 needs the openvino extra)"),
    Preset("accurate-nc", "yunet", ACCURATE_NC_RECOGNIZER,
           "the best accuracy, with InsightFace weights: non-commercial research only"),
    Preset("dlib", "dlib-hog", "dlib-resnet",
           "face_recognition-compatible: dlib HOG + ResNet, 128-d (galleries built before presets)"),
)}


def get_preset(name: str | None = None) -> Preset:
    """The named preset (None: the default); ConfigError naming the known ones otherwise."""
    if name is None:
        name = DEFAULT_PRESET
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown preset {name!r} (known: {', '.join(PRESETS)})") from None


def preset_for_recognizer(recognizer: str) -> Preset | None:
    """The preset that uses ``recognizer`` (the default one first), or None."""
    ordered = [PRESETS[DEFAULT_PRESET], *PRESETS.values()]
    return next((p for p in ordered if p.recognizer == recognizer), None)


def how_to_use(recognizer: str) -> str:
    """``--preset dlib (or --recognizer dlib-resnet)``: how to ask for ``recognizer`` on the command line."""
    preset = preset_for_recognizer(recognizer)
    if preset is None:
        return f"--recognizer {recognizer}"
    return f"--preset {preset.name} (or --recognizer {recognizer})"


def detector_models(detector: str) -> tuple[str, ...]:
    """Zoo names of the models a registered detector loads with its default options (with dlib's
    5-point predictor for one without landmarks)."""
    from facetrust.detection import DETECTORS

    cls = DETECTORS.get_class(detector)
    default = inspect.signature(cls).parameters.get("model")
    own = getattr(cls, "zoo_models", None) or ((default.default,) if default is not None else ())
    # Detectors without landmarks get dlib's 5-point predictor (facetrust.detection.landmarks).
    return tuple(own) + (() if getattr(cls, "provides_landmarks", True) else ("dlib-shape5",))


def _recognizer_models(recognizer: str) -> tuple[str, ...]:
    from facetrust.recognition import RECOGNIZERS

    return tuple(RECOGNIZERS.get_class(recognizer).zoo_models)


def resolve(preset: str | None = None, detector: str | None = None, recognizer: str | None = None) -> tuple[str, str]:
    """(detector, recognizer): the ones given, the rest from ``preset`` (None: the default preset)."""
    chosen = get_preset(preset)
    return detector or chosen.detector, recognizer or chosen.recognizer
