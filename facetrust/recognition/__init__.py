"""Face recognition: a :class:`Recognizer` protocol and the ``RECOGNIZERS`` registry."""
from facetrust.errors import ConfigError
from facetrust.recognition.base import Recognizer
from facetrust.recognition.calibration import Calibration, load_calibration
from facetrust.registry import Registry


class RecognizerRegistry(Registry[Recognizer]):
    """Also resolves ``fusion:A+B[+C…]`` (score-level fusion of registered recognizers) and the
    recognizers registered on this machine (facetrust.recognition.local)."""

    def get_class(self, name: str) -> type[Recognizer]:
        from facetrust.recognition.fusion import PREFIX, fusion_class

        if name.startswith(PREFIX):
            return fusion_class(name)  # type: ignore[return-value]
        try:
            return super().get_class(name)
        except ConfigError:
            from facetrust.recognition.local import local_recognizer_class

            local = local_recognizer_class(name)  # registered on this machine (facetrust train export --register)
            if local is None:
                raise
            return local  # type: ignore[return-value]


def recognizer_files(name: str) -> tuple:
    """The zoo files behind a recognizer: its own, or every member's for a fusion
    (what galleries and evaluation caches identify a recognizer by)."""
    from facetrust.recognition.fusion import PREFIX, parse_members
    from facetrust.zoo import get_model

    names = parse_members(name) if name.startswith(PREFIX) else (name,)
    return tuple(f for n in names for f in get_model(n).files)


RECOGNIZERS = RecognizerRegistry("recognizer")
RECOGNIZERS.register("dlib-resnet", "facetrust.recognition.dlib_resnet:DlibResNetRecognizer", "dlib ResNet-29, 128-d (embedded; preset dlib)")
RECOGNIZERS.register("mobilefacenet", "facetrust.recognition.mobilefacenet:MobileFaceNetRecognizer", "MobileFaceNet ONNX, 128-d, ArcFace alignment (model zoo)")
RECOGNIZERS.register("edgeface-xs", "facetrust.recognition.edgeface:EdgeFaceXSRecognizer", "EdgeFace-XS ONNX, 512-d, ArcFace alignment (in the package, BSD-3; default)")
RECOGNIZERS.register("edgeface-xxs", "facetrust.recognition.edgeface:EdgeFaceXXSRecognizer", "EdgeFace-XXS ONNX, 512-d, fastest (model zoo, BSD-3)")
RECOGNIZERS.register("reid-0095", "facetrust.recognition.reid_0095:Reid0095Recognizer", "OMZ face-reidentification-retail-0095, 256-d (model zoo, Apache-2.0, needs openvino)")
RECOGNIZERS.register("w600k-mbf", "facetrust.recognition.w600k_mbf:W600kMbfRecognizer", "InsightFace w600k_mbf ONNX, 512-d (model zoo, NON-COMMERCIAL)")

__all__ = ["Calibration", "RECOGNIZERS", "Recognizer", "RecognizerRegistry", "load_calibration", "recognizer_files"]
