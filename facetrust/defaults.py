"""Default components and settings, in one place.

The library's signatures, the CLI's option defaults and the server configuration all
read these names, so changing a default (or a preset of defaults) is an edit here only.
Plain constants: importing this module imports nothing else.
"""
from __future__ import annotations

#: Preset (facetrust.presets) of the analyzer, galleries and server: YuNet + RetinaFace landmarks +
#: EdgeFace-XS, all in the package.
DEFAULT_PRESET = "balanced"
#: Face detector of the analyzer, galleries, quality and evaluation (registry name): the default preset's
#: (a test keeps them equal). YuNet decides the faces, RetinaFace places their landmarks: not RetinaFace
#: itself, which finds false faces on 3 of the 44 colour test photos (docs/detection.md).
DEFAULT_DETECTOR = "yunet-retinaface"
#: Recognizer of embeddings, verification and galleries (registry name): the default preset's.
DEFAULT_RECOGNIZER = "edgeface-xs"
#: False-match rate at which verification and gallery decision thresholds are set.
DEFAULT_FMR = 1e-3
#: Quality method (falls back to "explainable" where no learned model ships for the recognizer).
DEFAULT_QUALITY_METHOD = "learned"
#: Face detector of liveness and forgery checks run on their own: their crops and
#: thresholds were measured on YuNet's boxes and landmarks (docs/liveness.md, docs/forensics.md).
#: Checks run by the analyzer read the analyzer's faces, or ``AnalyzerConfig.check_detector``'s.
DEFAULT_CHECK_DETECTOR = "yunet"
#: Liveness model (registry name).
DEFAULT_LIVENESS_MODEL = "minifasnet"
#: Forgery detector: the project's `sbi` at its threshold calibrated on real colour faces, chosen by
#: the rule pre-registered in docs/forensics.md (issue 21): `fusion` flagged one race group's real
#: faces more than twice as often as overall; MesoNet cannot reach 3% false alarms on aligned crops
#: below a threshold of 1.0 (it would never flag anything).
DEFAULT_FORGERY_DETECTOR = "sbi"
