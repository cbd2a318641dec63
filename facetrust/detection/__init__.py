"""Face detection: a :class:`Detector` protocol and the ``DETECTORS`` registry."""
from facetrust.detection.base import Detector
from facetrust.registry import Registry

DETECTORS: Registry[Detector] = Registry("detector")
DETECTORS.register("dlib-hog", "facetrust.detection.dlib_hog:DlibHogDetector", "dlib HOG + SVM (embedded; preset dlib)")
DETECTORS.register("dlib-cnn", "facetrust.detection.dlib_cnn:DlibCnnDetector", "dlib MMOD CNN (embedded; accurate, slow on CPU)")
DETECTORS.register("yunet", "facetrust.detection.yunet:YuNetDetector", "YuNet ONNX, box + 5 landmarks (in the package, Apache-2.0; default)")
DETECTORS.register("ultraface", "facetrust.detection.ultraface:UltraFaceDetector", "UltraFace RFB-320 ONNX, boxes only (model zoo)")
DETECTORS.register("scrfd", "facetrust.detection.scrfd:ScrfdDetector", "SCRFD-0.5GF ONNX, box + 5 landmarks (model zoo, NON-COMMERCIAL)")
DETECTORS.register("retinaface", "facetrust.detection.retinaface:RetinaFaceDetector", "RetinaFace-MobileNet0.25 ONNX, box + 5 landmarks (in the package, MIT)")
DETECTORS.register("yunet-retinaface", "facetrust.detection.yunet_retinaface:YuNetRetinaFaceDetector",
                   "YuNet finds the faces, RetinaFace places their 5 landmarks (both in the package)")

__all__ = ["DETECTORS", "Detector"]
