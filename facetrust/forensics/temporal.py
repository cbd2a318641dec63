"""Training-free temporal identity drift of a face track.

A real face's identity embedding and landmark geometry change smoothly from frame to
frame; per-frame face replacement re-synthesises the face each frame, so its identity
and its inner-face geometry jitter. Two measures along a track (sampled frames in
time order):

* **identity step**: ``1 - cos(e_t, e_{t-1})`` between consecutive embeddings, expressed
  as a fraction of the recognizer's own impostor distance ``1 - tau`` (tau = its
  verification threshold at FMR 1e-3), so 1.0 means "consecutive frames as far apart as
  two different people";
* **geometry jitter**: the 5 landmarks are Procrustes-normalised (similarity-aligned to
  the track's mean shape, unit inter-ocular distance, which removes head motion), and
  the jitter at t is the norm of the second difference ``r_t - (r_{t-1} + r_{t+1}) / 2``
  of that residual shape, in inter-ocular distances; smooth expression changes cancel,
  frame-to-frame flicker does not.

The track's drift score is ``1 - exp(-(I + G / G_REF) / 2)`` with I the median identity
step and G the median geometry jitter: medians so that a single missed or mislocated
detection does not dominate. ``G_REF`` (:data:`GEOMETRY_REFERENCE`) puts geometry on the
identity scale: 0.1 inter-ocular distances of unexplained landmark motion between
samples. Both constants are fixed a priori (see docs/forensics.md); the per-step values
are reported so a user can calibrate their own operating point.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from facetrust.reasons import ReasonCode

#: Landmark jitter (inter-ocular distances) that counts as much as an impostor-size identity step.
GEOMETRY_REFERENCE = 0.1
#: A track needs at least this many embedded samples for a drift score.
MIN_SAMPLES = 3


@dataclass(frozen=True)
class Drift:
    """Identity drift of one track; ``score`` None (with ``reason``) when it cannot be measured."""

    score: float | None
    identity_steps: list[float] = field(default_factory=list)
    geometry_jitter: list[float] = field(default_factory=list)
    reason: str | None = None
    reason_code: ReasonCode | None = None

    @property
    def identity(self) -> float | None:
        return float(np.median(self.identity_steps)) if self.identity_steps else None

    @property
    def geometry(self) -> float | None:
        return float(np.median(self.geometry_jitter)) if self.geometry_jitter else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "score": None if self.score is None else round(self.score, 6),
            "identity_step_median": None if self.identity is None else round(self.identity, 6),
            "geometry_jitter_median": None if self.geometry is None else round(self.geometry, 6),
        }
        if self.reason:
            out["reason"] = self.reason
        if self.reason_code:
            out["reason_code"] = self.reason_code
        return out


def normalised_shapes(landmarks: Sequence[np.ndarray]) -> np.ndarray:
    """(T, 5, 2) landmarks similarity-aligned to their mean shape, in inter-ocular units."""
    from facetrust.alignment.similarity import estimate_similarity

    shapes = np.asarray(landmarks, dtype=np.float64).reshape(-1, 5, 2)
    iod = np.linalg.norm(shapes[:, 1] - shapes[:, 0], axis=1, keepdims=True)[..., None]
    centred = (shapes - shapes.mean(axis=1, keepdims=True)) / np.maximum(iod, 1e-6)
    reference = centred.mean(axis=0)
    aligned = []
    for shape in centred:
        matrix = estimate_similarity(shape, reference)
        aligned.append(shape @ matrix[:, :2].T + matrix[:, 2])
    return np.asarray(aligned)


def identity_drift(embeddings: Sequence[np.ndarray], landmarks: Sequence[np.ndarray],
                   impostor_distance: float) -> Drift:
    """Drift of one track from its per-sample embeddings (L2-normalised) and landmarks, in time order."""
    if len(embeddings) != len(landmarks):
        raise ValueError("one embedding and one landmark set per sample are needed")
    if len(embeddings) < MIN_SAMPLES:
        return Drift(None, reason=f"track has {len(embeddings)} sample(s), at least {MIN_SAMPLES} are needed",
                     reason_code="too_few_samples")
    vectors = np.asarray(embeddings, dtype=np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    steps = (1.0 - np.sum(vectors[1:] * vectors[:-1], axis=1)) / impostor_distance
    shapes = normalised_shapes(landmarks).reshape(len(landmarks), -1)
    jitter = np.linalg.norm(shapes[1:-1] - (shapes[:-2] + shapes[2:]) / 2, axis=1)
    identity, geometry = float(np.median(steps)), float(np.median(jitter))
    score = 1.0 - float(np.exp(-(identity + geometry / GEOMETRY_REFERENCE) / 2))
    return Drift(score, [float(s) for s in steps], [float(j) for j in jitter])
