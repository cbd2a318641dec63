"""Liveness (presentation-attack detection): a :class:`LivenessModel` protocol, the
``LIVENESS_MODELS`` registry and :class:`LivenessChecker`, which applies a model to
every face of an image or video with input checks and a decision threshold."""
from facetrust.liveness.base import FaceLiveness, LivenessModel, LivenessResult, LivenessScores
from facetrust.liveness.checker import DEFAULT_THRESHOLD, MIN_CONTEXT_SCALE, MIN_FACE_SIDE, LivenessChecker
from facetrust.registry import Registry

LIVENESS_MODELS: Registry[LivenessModel] = Registry("liveness model")
LIVENESS_MODELS.register("minifasnet", "facetrust.liveness.minifasnet:MiniFASNetFused",
                         "MiniFASNetV2 (2.7x) + MiniFASNetV1SE (4.0x), softmaxes summed (default; model zoo)")
LIVENESS_MODELS.register("minifasnet-v2", "facetrust.liveness.minifasnet:MiniFASNetV2",
                         "MiniFASNetV2 on the face box scaled 2.7x (model zoo)")
LIVENESS_MODELS.register("minifasnet-v1se", "facetrust.liveness.minifasnet:MiniFASNetV1SE",
                         "MiniFASNetV1SE on the face box scaled 4.0x (model zoo)")
LIVENESS_MODELS.register("moire", "facetrust.liveness.frequency:FrequencyCue",
                         "high-frequency and periodic-peak (moiré) energy of the face; needs a fitted calibration")
LIVENESS_MODELS.register("lbp-colour", "facetrust.liveness.texture:ColourTextureCue",
                         "uniform-LBP histograms in YCrCb + HSV (60 bins); needs a fitted calibration")
LIVENESS_MODELS.register("minifasnet+cues", "facetrust.liveness.fusion:MiniFASNetWithCues",
                         "minifasnet, with the moiré cue joining the vote once fitted")

__all__ = ["DEFAULT_THRESHOLD", "FaceLiveness", "LIVENESS_MODELS", "LivenessChecker", "LivenessModel",
           "LivenessResult", "LivenessScores", "MIN_CONTEXT_SCALE", "MIN_FACE_SIDE"]
