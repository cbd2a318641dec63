"""Liveness of every face in an image: input checks, model, calibration, decision.

:class:`LivenessChecker` is separate from :class:`~facetrust.analyzer.FaceAnalyzer`,
so plain ``analyze`` never pays for it. It either detects faces itself or scores
faces an analyzer already found (:meth:`LivenessChecker.annotate`).

A face gets ``status="unavailable"`` (score None, never a guess) when:

* the image has no colour (:func:`is_grayscale`): the models read colour cues;
* its box is narrower or shorter than :data:`MIN_FACE_SIDE` pixels: below that the
  smallest crop (2.7 x the box) is upsampled to 80x80 and the fine texture the models
  rely on (print dots, screen moiré) is interpolated away;
* the image is a tight face crop (:func:`context_scale` < :data:`MIN_CONTEXT_SCALE`): the
  MiniFASNet networks read the scene around the face (2.7x and 4x the box), and an image
  not even 1.5 face boxes wide or tall has almost none of it;
* its box reaches the image border (:func:`touches_border`): part of the face is
  missing, and detectors clip such boxes to the image, so their size is wrong too;
* the model is a cue model (``moire``, ``lbp-colour``) and no calibration was given:
  it measures features (kept in ``model_scores``) but has no P(live) until fitted.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from facetrust.defaults import DEFAULT_CHECK_DETECTOR, DEFAULT_LIVENESS_MODEL
from facetrust.errors import ConfigError, FaceNotFoundError
from facetrust.io.image import ImageSource
from facetrust.liveness.base import Box, FaceLiveness, LivenessModel, LivenessResult
from facetrust.liveness.calibration import LivenessCalibration
from facetrust.liveness.crop import INPUT_SIZE, capped_scale, reference_xywh
from facetrust.reasons import ReasonCode
from facetrust.types import Detection, Face

#: Default decision threshold on P(live): live when it is at least as likely as not.
#: Not tuned on any PAD benchmark (see docs/liveness.md); fit your own with
#: ``facetrust liveness fit``.
DEFAULT_THRESHOLD = 0.5
#: Smallest face-box side (px) with a decision: 80 / 2.7 rounded up, so the 2.7x crop is never upsampled.
MIN_FACE_SIDE = math.ceil(INPUT_SIZE / 2.7)
#: Tight face crop: the image holds the face box fewer than this many times across or down, so the
#: reference crop of the smallest context scale (2.7) is capped below 1.5 (at most 31 % of its window).
#: 1.5 = the loosest framing of the usual face-crop conventions (dlib face chips with padding 0.25:
#: a quarter of the face on each side; ArcFace 112x112 and facenet 160x160 crops are tighter), chosen
#: from those conventions, not fitted to any measured set (docs/liveness.md, "Face crops").
MIN_CONTEXT_SCALE = 1.5
#: A box edge within this many pixels of the image edge counts as touching it.
BORDER_TOLERANCE = 1.0
#: Grayscale test: this share of pixels has R, G and B within :data:`GRAY_SPREAD` levels of each other.
GRAY_SHARE = 0.99
GRAY_SPREAD = 2


def is_grayscale(image: np.ndarray) -> bool:
    """True when an RGB image carries no colour (grayscale input replicated to 3 channels).

    Checked on every 4th pixel in each direction; a tolerance of a few levels absorbs
    JPEG chroma noise of grayscale photos saved as colour files.
    """
    sample = image[::4, ::4].astype(np.int16)
    spread = sample.max(axis=2) - sample.min(axis=2)
    return bool(np.mean(spread <= GRAY_SPREAD) >= GRAY_SHARE)


def context_scale(box: Box, width: int, height: int, scale: float) -> float:
    """How many face boxes of scene the reference crop at ``scale`` gets: ``scale`` itself when the
    image holds the enlarged box, less when the image is too small for it (a face crop: about 1)."""
    return capped_scale(width, height, reference_xywh(box), scale)


def touches_border(box: Box, width: int, height: int) -> bool:
    x1, y1, x2, y2 = (float(v) for v in box)
    return (x1 <= BORDER_TOLERANCE or y1 <= BORDER_TOLERANCE
            or x2 >= width - 1 - BORDER_TOLERANCE or y2 >= height - 1 - BORDER_TOLERANCE)


class LivenessChecker:
    """Scores faces with a registered liveness model and decides at a threshold.

    >>> checker = LivenessChecker()                      # minifasnet, YuNet detector
    >>> for item in checker.check("door_camera.jpg"):    # doctest: +SKIP
    ...     print(item.face.box, item.result.status, item.result.score)

    ``calibration`` (a file written by ``facetrust liveness fit``) replaces the score by
    the fitted probability and its threshold; ``threshold`` overrides either.
    ``analyzer`` (a :class:`~facetrust.analyzer.FaceAnalyzer`) detects faces; by default
    one with ``detector`` is built on first use.
    """

    def __init__(self, model: str = DEFAULT_LIVENESS_MODEL, threshold: float | None = None,
                 calibration: str | Path | LivenessCalibration | None = None, detector: str = DEFAULT_CHECK_DETECTOR,
                 analyzer: Any = None, device: str = "cpu") -> None:
        from facetrust.liveness import LIVENESS_MODELS

        LIVENESS_MODELS.get_class(model)  # fail fast on an unknown name
        if isinstance(calibration, (str, Path)):
            calibration = LivenessCalibration.load(calibration)
        if calibration is not None and calibration.model != model:
            raise ConfigError(f"calibration was fitted for liveness model {calibration.model!r}, not {model!r}")
        if threshold is not None and not (isinstance(threshold, (int, float)) and 0 <= threshold <= 1):
            raise ConfigError(f"threshold must be a probability in [0, 1], got {threshold!r}")
        self.model_name = model
        self.calibration = calibration
        self.threshold = float(threshold if threshold is not None
                               else calibration.threshold if calibration is not None else DEFAULT_THRESHOLD)
        self.detector_name = detector if analyzer is None else analyzer.config.detector
        self.device = device
        self._model: LivenessModel | None = None
        self._analyzer = analyzer

    @property
    def model(self) -> LivenessModel:
        if self._model is None:
            from facetrust.liveness import LIVENESS_MODELS

            self._model = LIVENESS_MODELS.create(self.model_name, device=self.device)
        return self._model

    @property
    def analyzer(self) -> Any:
        if self._analyzer is None:
            from facetrust.analyzer import FaceAnalyzer

            self._analyzer = FaceAnalyzer(detector=self.detector_name, device=self.device)
        return self._analyzer

    def load_models(self) -> None:
        """Load the liveness model and the face detector now: a missing model file fails
        once, before a run over many inputs, instead of once per input."""
        self.model, self.analyzer.detector  # noqa: B018 - the properties load the models

    @property
    def name(self) -> str:
        return self.model_name if self.calibration is None else f"{self.model_name}+calibration"

    def _unavailable(self, code: ReasonCode, reason: str) -> LivenessResult:
        return LivenessResult("unavailable", None, self.threshold, self.name, {}, reason, code)

    def check_face(self, image: np.ndarray, face: Face | Detection | Box,
                   grayscale: bool | None = None) -> LivenessResult:
        """Liveness of one face of an RGB uint8 image (from :meth:`FaceAnalyzer.load`).

        ``grayscale`` may pass a precomputed :func:`is_grayscale` of the image.
        """
        box = face.box if isinstance(face, (Face, Detection)) else tuple(face)
        height, width = image.shape[:2]
        if grayscale is None:
            grayscale = is_grayscale(image)
        if grayscale:
            return self._unavailable("grayscale", "grayscale image: the liveness models need colour")
        side = min(box[2] - box[0], box[3] - box[1])
        if side < MIN_FACE_SIDE:
            return self._unavailable("face_too_small",
                                     f"face too small: {side:.0f} px, the minimum is {MIN_FACE_SIDE} px")
        context_scales = [s for s in self.model.scales if s > 1]  # cue models read the face box alone
        if context_scales:
            nominal = min(context_scales)
            context = context_scale(box, width, height, nominal)
            if context < MIN_CONTEXT_SCALE:
                return self._unavailable(
                    "tight_crop", f"tight face crop: the face fills the image, and the model needs the scene around it "
                    f"({nominal:g}x the face box); this image holds {context:.2f}x — give it the camera frame, "
                    "with the face smaller in it")
        if touches_border(box, width, height):
            return self._unavailable("face_at_border", "face cut by the image border")
        scores = self.model.predict(image, box)
        if scores.score is None and self.calibration is None:
            # A cue model without a fitted classifier: show the measured features, decide nothing.
            return LivenessResult("unavailable", None, self.threshold, self.name, scores.model_scores,
                                  f"{self.model_name} is not fitted: it measures features, and a calibration fitted "
                                  "on labelled live/spoof data turns them into P(live)", "not_fitted")
        score = scores.score if self.calibration is None else self.calibration.apply(scores.model_scores)
        status = "live" if score >= self.threshold else "spoof"
        return LivenessResult(status, score, self.threshold, self.name, scores.model_scores)

    def check_faces(self, image: np.ndarray, faces: Sequence[Face | Detection]) -> list[LivenessResult]:
        grayscale = is_grayscale(image)
        return [self.check_face(image, face, grayscale) for face in faces]

    def annotate(self, image: np.ndarray, faces: Sequence[Face]) -> list[Face]:
        """Add ``extras["liveness"]`` (the result as a dict) to faces an analyzer found in ``image``."""
        for face, result in zip(faces, self.check_faces(image, faces)):
            face.extras["liveness"] = result.to_dict()
        return list(faces)

    def check_rgb(self, image: np.ndarray) -> list[FaceLiveness]:
        """Every face (largest first) with its result; an empty list when there is no face."""
        faces = self.analyzer.detect(image)
        return [FaceLiveness(face, result) for face, result in zip(faces, self.check_faces(image, faces))]

    def check(self, source: ImageSource) -> list[FaceLiveness]:
        """Liveness of every face in an image, largest first; raises FaceNotFoundError if there is none.

        Several faces: each gets its own result; callers that need one subject take
        the first (largest), as :meth:`check_subject` does.
        """
        results = self.check_rgb(self.analyzer.load(source))
        if not results:
            where = f" in {source}" if isinstance(source, (str, Path)) else ""
            raise FaceNotFoundError(f"no face found{where}")
        return results

    def check_subject(self, source: ImageSource) -> FaceLiveness:
        """The largest face's result: the documented choice for one decision per image."""
        return self.check(source)[0]

    def check_video(self, path: str | Path, every_seconds: float = 0.5, max_frames: int | None = None,
                    cue_frames: int = 0, progress: Any = False) -> Any:
        """Per-track liveness over sampled frames, plus the video cues of the first ``cue_frames``
        frames when > 0 (:func:`facetrust.liveness.video.check_video`); ``progress``: True for a
        bar on stderr, or a ``(done, total)`` callback (:mod:`facetrust.progress`)."""
        from facetrust.liveness.video import check_video

        return check_video(self, path, every_seconds=every_seconds, max_frames=max_frames, cue_frames=cue_frames,
                           progress=progress)
