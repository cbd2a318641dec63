"""Face image quality: a :class:`QualityAssessor` protocol and the ``ASSESSORS`` registry.

>>> from facetrust.quality import assess
>>> for face, quality in assess("photo.jpg"):              # doctest: +SKIP
...     print(quality.score, quality.acceptable, quality.reasons)
"""
from facetrust.quality.api import (assess, assess_faces, check_enrolment, create_assessor, default_method,
                                   fuse_embeddings)
from facetrust.quality.base import QualityAssessor, QualityResult
from facetrust.registry import Registry

ASSESSORS: Registry[QualityAssessor] = Registry("quality assessor")
ASSESSORS.register("explainable", "facetrust.quality.explainable:ExplainableQuality", "size, framing, pose, sharpness, exposure; no model")
ASSESSORS.register("stability", "facetrust.quality.stability:StabilityQuality", "embedding stability under mirror and shift (SER-FIQ idea)")
ASSESSORS.register("learned", "facetrust.quality.learned:LearnedQuality", "components + embedding regressor on SDD-FIQA labels")

__all__ = ["ASSESSORS", "QualityAssessor", "QualityResult", "assess", "assess_faces", "check_enrolment",
           "create_assessor", "default_method", "fuse_embeddings"]
