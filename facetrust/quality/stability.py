"""Training-free quality from embedding stability (the SER-FIQ idea, without dropout).

SER-FIQ (Terhörst et al., CVPR 2020) scores a face by how little its
embedding moves across random dropout sub-networks of the recognizer: a
clear face has a robust representation. dlib's ResNet and the ONNX
MobileFaceNet have no dropout layer to switch on, so the perturbations here
are of the input instead: the aligned crop mirrored, and shifted by 2.5% of
its size. The raw measure is the mean cosine between the embedding of the
crop and those of its perturbed copies (1 = perfectly stable); the score is
its percentile among the LFW training faces. Costs one extra embedding per
perturbation.

For a recognizer that already averages in the mirrored crop (MobileFaceNet
with ``flip=True``) the mirror perturbation changes nothing and only the
shift carries information.
"""
from __future__ import annotations

from typing import Any, ClassVar, Sequence

import numpy as np

from facetrust.defaults import DEFAULT_RECOGNIZER
from facetrust.quality.base import LazyRecognizer, QualityResult
from facetrust.quality.calibration import load_quality_calibration
from facetrust.quality.perturbation import crop_perturbations
from facetrust.registry import Option
from facetrust.types import Detection, Face


def stability_from_crops(recognizer: Any, crops: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(embeddings of the crops, mean cosine to their perturbed copies), for a batch of aligned crops."""
    batch = [c for crop in crops for c in (crop, *crop_perturbations(crop))]
    vectors = recognizer.embed_aligned(batch).reshape(len(crops), -1, recognizer.dim)
    cosines = np.einsum("nd,nkd->nk", vectors[:, 0], vectors[:, 1:])
    return vectors[:, 0], cosines.mean(axis=1)


class StabilityQuality(LazyRecognizer):
    """Embedding stability under mirroring and a small shift, for a named recognizer."""

    name = "stability"
    OPTIONS: ClassVar[dict[str, Option]] = {"recognizer": Option(str), "threshold": Option(float, 0.0, optional=True)}

    def __init__(self, recognizer: str = DEFAULT_RECOGNIZER, threshold: float | None = None) -> None:
        self.recognizer_name = recognizer
        self.calibration = load_quality_calibration(self.name, recognizer)
        self.threshold = self.calibration.threshold if threshold is None else float(threshold)

    def assess(self, image: np.ndarray, face: Face | Detection) -> QualityResult:
        from facetrust.quality.components import check_face

        check_face(image, face.box, face.landmarks)
        detection = Detection(face.box, face.score, np.asarray(face.landmarks, dtype=np.float32))
        _, cosine = stability_from_crops(self.recognizer, [self.recognizer.align(image, detection)])
        score = float(self.calibration.scale(float(cosine[0])))
        reasons = ("embedding unstable under small perturbations",) if score < self.threshold else ()
        return QualityResult(score, self.name, self.threshold, {"embedding_stability": float(cosine[0])}, {}, reasons)
