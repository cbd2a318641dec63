"""Face alignment: similarity transforms of 5 landmarks to canonical templates."""
from facetrust.alignment.similarity import ARCFACE_TEMPLATE_112, align_arcface, estimate_similarity

__all__ = ["ARCFACE_TEMPLATE_112", "align_arcface", "estimate_similarity"]
