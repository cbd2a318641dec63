"""Score-level fusion of several recognizers, usable wherever one recognizer is.

``fusion:edgeface-xs+reid-0095`` embeds a face with every member and
concatenates the member embeddings, each scaled by ``sqrt(w_i)``. The dot
product of two fused embeddings is then ``sum_i w_i * cos_i``: the weighted sum
of the members' cosine scores, so verification, gallery search (inner-product
indexes) and evaluation need nothing fusion-specific. The weights are
``w_i ∝ 1 / sigma_i`` (summing to 1), ``sigma_i`` being the member's impostor
score standard deviation from its calibration: up to a constant offset this
is the sum of z-normalised scores, and the fused embedding stays unit-length.

The crop is the ArcFace-aligned 112x112 crop, and each member re-aligns from
it. For the ArcFace members that is the identity warp, and reid-0095 makes its
own crop from the ArcFace crop too, so each member's part of a fused embedding
equals that member's own embedding of the face: fused embeddings can also be
composed from embeddings stored per member (:meth:`FusionRecognizer.fuse`,
used by the evaluation's embedding cache).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from facetrust.alignment.similarity import ARCFACE_TEMPLATE_112, align_arcface
from facetrust.errors import ConfigError, MissingEmbeddingError
from facetrust.recognition.calibration import calibration_filename, load_calibration
from facetrust.types import Detection

PREFIX = "fusion:"
_SIZE = 112


def parse_members(name: str) -> tuple[str, ...]:
    """``fusion:a+b`` -> ``("a", "b")``; at least two distinct, non-fused members."""
    members = tuple(name[len(PREFIX):].split("+")) if name.startswith(PREFIX) else ()
    if len(members) < 2 or "" in members or len(set(members)) != len(members):
        raise ConfigError(f"a fused recognizer is named 'fusion:A+B[+C…]' with distinct members, got {name!r}")
    if any(m.startswith(PREFIX) for m in members):
        raise ConfigError(f"fusions cannot be nested: {name!r}")
    return members


def fusion_weights(members: Sequence[str]) -> np.ndarray:
    """``1 / sigma_impostor`` per member, normalised to sum to 1."""
    inverse = []
    for member in members:
        std = load_calibration(member).impostor_std
        if std is None:
            raise ConfigError(f"recognizer {member!r} has no impostor score statistics in its calibration; "
                              f"rerun bench/calibrate_thresholds.py for it before fusing it")
        inverse.append(1.0 / std)
    weights = np.array(inverse, dtype=np.float64)
    return weights / weights.sum()


class FusionRecognizer:
    """Base class; :func:`fusion_class` makes the subclass for one list of members."""

    name = ""
    metric = "cosine"
    members: tuple[str, ...] = ()
    dims: tuple[int, ...] = ()
    dim = 0
    #: sqrt of each member's weight: the factor its embedding is scaled by.
    scales: tuple[float, ...] = ()

    def __init__(self, device: str = "cpu") -> None:
        from facetrust.analyzer import _create
        from facetrust.recognition import RECOGNIZERS

        self._recognizers = [_create(RECOGNIZERS, member, {}, device) for member in self.members]
        self.device = device
        self._template = Detection((0.0, 0.0, float(_SIZE), float(_SIZE)), 1.0, ARCFACE_TEMPLATE_112.copy())

    @classmethod
    def weights(cls) -> dict[str, float]:
        """Each member's weight in the fused score."""
        return {m: s * s for m, s in zip(cls.members, cls.scales)}

    def align(self, image: np.ndarray, detection: Detection) -> np.ndarray:
        if detection.landmarks is None:
            raise ValueError(f"{self.name} needs 5 landmarks to align")
        return align_arcface(image, detection.landmarks, _SIZE)

    def embed_aligned(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        if len(crops) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        per_member = {
            member: recognizer.embed_aligned([recognizer.align(crop, self._template) for crop in crops])
            for member, recognizer in zip(self.members, self._recognizers)
        }
        return self.fuse(per_member)

    @classmethod
    def fuse(cls, embeddings: Mapping[str, np.ndarray | None]) -> np.ndarray:
        """Fused (N, dim) embeddings from each member's (N, dim_i) L2-normalised embeddings
        (e.g. stored per recognizer); a missing member raises :class:`MissingEmbeddingError`."""
        parts = []
        for member, dim, scale in zip(cls.members, cls.dims, cls.scales):
            vectors = embeddings.get(member)
            if vectors is None:
                raise MissingEmbeddingError(f"{cls.name}: no {member!r} embedding for this face "
                                            f"(a fused score needs every member's embedding)")
            vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
            if vectors.ndim != 2 or vectors.shape[1] != dim or not np.all(np.isfinite(vectors)):
                raise MissingEmbeddingError(f"{cls.name}: the {member!r} embedding must be finite with {dim} "
                                            f"values per face, got shape {vectors.shape}")
            parts.append(vectors * np.float32(scale))
        if len({len(p) for p in parts}) != 1:
            raise MissingEmbeddingError(f"{cls.name}: members have embeddings for different numbers of faces")
        return np.concatenate(parts, axis=1)


def fusion_class(name: str) -> type[FusionRecognizer]:
    """The recognizer class for ``fusion:a+b``; unknown members, or members without
    impostor statistics, fail here, before any model loads."""
    from facetrust.recognition import RECOGNIZERS

    members = parse_members(name)
    dims = tuple(int(RECOGNIZERS.get_class(member).dim) for member in members)
    scales = tuple(float(v) for v in np.sqrt(fusion_weights(members)))
    return type("FusionRecognizer", (FusionRecognizer,),
                {"members": members, "name": name, "dims": dims, "dim": sum(dims), "scales": scales,
                 "calibration": calibration_filename(name).removesuffix(".json"),
                 "zoo_models": tuple(m for member in members for m in RECOGNIZERS.get_class(member).zoo_models)})
