"""Face-forgery (deepfake) detection: a :class:`ForgeryDetector` protocol, the
``FORGERY_DETECTORS`` registry and :class:`ForgeryChecker`, which applies a detector
to every face of an image or video with input checks, a decision threshold, spatial
heat maps and temporal segments."""
from facetrust.forensics.base import FaceForgery, ForgeryDetector, ForgeryResult, ForgeryScores
from facetrust.registry import Registry

FORGERY_DETECTORS: Registry[ForgeryDetector] = Registry("forgery detector")
FORGERY_DETECTORS.register("mesonet", "facetrust.forensics.mesonet:MesoNetDetector",
                           "MesoInception4 trained on Deepfake (DF) faces (model zoo: mesoinception-df)")
FORGERY_DETECTORS.register("meso4-df", "facetrust.forensics.mesonet:Meso4DF", "Meso4, Deepfake weights")
FORGERY_DETECTORS.register("meso4-f2f", "facetrust.forensics.mesonet:Meso4F2F", "Meso4, Face2Face weights")
FORGERY_DETECTORS.register("mesoinception-df", "facetrust.forensics.mesonet:MesoInceptionDF",
                           "MesoInception4, Deepfake weights (same as mesonet)")
FORGERY_DETECTORS.register("mesoinception-f2f", "facetrust.forensics.mesonet:MesoInceptionF2F",
                           "MesoInception4, Face2Face weights")
FORGERY_DETECTORS.register("sbi", "facetrust.forensics.sbi:SBIDetector",
                           "this project's detector trained on self-blended real faces; luminance + spectrum, heat map "
                           "(default)")
FORGERY_DETECTORS.register("fusion", "facetrust.forensics.sbi:FusionDetector",
                           "mean P(fake) of sbi and mesonet")

__all__ = ["FORGERY_DETECTORS", "FaceForgery", "ForgeryDetector", "ForgeryResult", "ForgeryScores"]
