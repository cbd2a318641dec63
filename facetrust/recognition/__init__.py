"""Face recognition: a :class:`Recognizer` protocol and the ``RECOGNIZERS`` registry."""
from facetrust.recognition.base import Recognizer
from facetrust.recognition.calibration import Calibration, load_calibration
from facetrust.registry import Registry

RECOGNIZERS: Registry[Recognizer] = Registry("recognizer")
RECOGNIZERS.register("dlib-resnet", "facetrust.recognition.dlib_resnet:DlibResNetRecognizer", "dlib ResNet-29, 128-d (embedded, default)")
RECOGNIZERS.register("mobilefacenet", "facetrust.recognition.mobilefacenet:MobileFaceNetRecognizer", "MobileFaceNet ONNX, 128-d, ArcFace alignment (model zoo)")

__all__ = ["Calibration", "RECOGNIZERS", "Recognizer", "load_calibration"]
