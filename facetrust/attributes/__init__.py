"""Face attributes: age, gender, expression and eye state, per face (docs/attributes.md).

Each attribute is one model in :data:`ATTRIBUTE_MODELS` (one file + one register line).
Age and gender (dlib-models by Cydral, CC0-1.0) ship inside the package; the eye state
is measured on dlib's 68 landmarks; the expression model (FER-2013, research use only)
is a zoo download and runs only when asked for. Use them as the ``attributes`` face
check (``FaceAnalyzer(checks=("attributes",))``, ``facetrust analyze --check attributes``)
or directly with :class:`AttributeEstimator`.
"""
from __future__ import annotations

from typing import Any, ClassVar, Protocol

from facetrust.registry import Registry


class AttributeModel(Protocol):
    """One attribute for a batch of faces: a result dict per face (``status`` "ok" or
    "unavailable" with a reason; a value that is unknown is None, never a guess)."""

    name: str
    #: Zoo entries the model loads (packaged models and dlib's own files are not zoo downloads).
    zoo_models: ClassVar[tuple[str, ...]]

    def estimate(self, faces: list[Any]) -> list[dict[str, Any]]: ...


ATTRIBUTE_MODELS: Registry = Registry("attribute model")
ATTRIBUTE_MODELS.register("age", "facetrust.attributes.age:DlibAge",
                          "age in years (14 jittered chips, a monotone map fitted on UTKFace, a calibrated 80% range), dlib-models, CC0, packaged")
ATTRIBUTE_MODELS.register("age-plain", "facetrust.attributes.age:DlibAgePlain",
                          "age in years (expected value of one chip, a calibrated 80% range), dlib-models, CC0, packaged")
ATTRIBUTE_MODELS.register("gender", "facetrust.attributes.gender:DlibGender",
                          "female / male with probability, dlib-models, CC0, packaged")
ATTRIBUTE_MODELS.register("age-omz", "facetrust.attributes.omz_age_gender:OmzAge",
                          "age in years and a calibrated 80% range, OMZ age-gender-recognition-retail-0013 (model zoo, Apache-2.0, needs openvino)")
ATTRIBUTE_MODELS.register("gender-omz", "facetrust.attributes.omz_age_gender:OmzGender",
                          "female / male with probability, OMZ age-gender-recognition-retail-0013 (model zoo, Apache-2.0, needs openvino)")
ATTRIBUTE_MODELS.register("expression", "facetrust.attributes.expression:MiniXceptionExpression",
                          "7 expressions, mini-Xception on FER-2013: research use only, model zoo")
ATTRIBUTE_MODELS.register("eyes", "facetrust.attributes.eyes:EyeAspectRatio",
                          "open / closed per eye from the eye aspect ratio of dlib's 68 landmarks (iBUG: non-commercial)")

#: What the ``attributes`` check reports unless told otherwise: no research-only model.
DEFAULT_ATTRIBUTES: tuple[str, ...] = ("age", "gender", "eyes")

from facetrust.attributes.api import AttributeEstimator  # noqa: E402 - needs the registry above

__all__ = ["ATTRIBUTE_MODELS", "AttributeModel", "DEFAULT_ATTRIBUTES", "AttributeEstimator"]
