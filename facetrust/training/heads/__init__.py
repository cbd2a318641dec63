"""Margin heads: turn the cosine matrix (embeddings x class centres, both L2-normalised) into logits.

Every head is ``head(cosine, labels, norms) -> logits`` with ``cosine`` (B, C), ``labels`` (B,)
indices into C, and ``norms`` (B,) the embeddings' norms before normalising (AdaFace uses them).
One file + one register line per head.
"""
from __future__ import annotations

from facetrust.registry import Registry

HEADS: Registry = Registry("margin head")
HEADS.register("arcface", "facetrust.training.heads.arcface:ArcFace", "additive angular margin cos(theta + m)")
HEADS.register("cosface", "facetrust.training.heads.cosface:CosFace", "additive cosine margin cos(theta) - m")
HEADS.register("curricularface", "facetrust.training.heads.curricularface:CurricularFace",
               "ArcFace target, hard negatives re-weighted by an adaptive curriculum t")
HEADS.register("adaface", "facetrust.training.heads.adaface:AdaFace",
               "margin adapted to image quality via the feature norm")


def create_head(name: str, scale: float, margin: float):  # noqa: ANN201 - a torch module
    """The head ``name`` with scale ``s`` and margin ``m``."""
    return HEADS.get_class(name)(scale=scale, margin=margin)
