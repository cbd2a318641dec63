"""Forgery check of every face in an image: input checks, detector, decision, heat map.

:class:`ForgeryChecker` is separate from :class:`~facetrust.analyzer.FaceAnalyzer`, so
plain ``analyze`` never pays for it; :meth:`ForgeryChecker.annotate` adds
``extras["forgery"]`` to faces an analyzer already found.

A face gets ``status="unavailable"`` (score None, never a guess) when it has no
landmarks (every crop is cut from them) or when its box's shorter side is under
``min_face_side`` (default :data:`MIN_FACE_SIDE` px): the detectors would see an
8x (MesoNet) or 3x (SBI) enlargement in which the blending and compression traces they
read are interpolated away.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from facetrust.defaults import DEFAULT_CHECK_DETECTOR, DEFAULT_FORGERY_DETECTOR, DEFAULT_RECOGNIZER
from facetrust.errors import ConfigError, FaceNotFoundError
from facetrust.forensics.base import FaceForgery, ForgeryDetector, ForgeryResult, ForgeryScores
from facetrust.io.image import ImageSource
from facetrust.reasons import ReasonCode
from facetrust.types import Face

#: Decision threshold on P(fake) of detectors that declare no ``default_threshold``: fake when
#: it is at least as likely as not. Not tuned on any evaluation data (see docs/forensics.md).
DEFAULT_THRESHOLD = 0.5
#: Smallest face-box side (px) that gets a decision.
MIN_FACE_SIDE = 32
#: Heat-map level that counts as "suspected manipulated" for the reported region.
REGION_LEVEL = 0.5
#: Least share of the detector's crop that must be image pixels (the rest is filled by
#: reflection): under it the crop shows too little around the face, where blending
#: boundaries lie. For scale: a stored 112x112 ArcFace crop gives 0.59 with SBI's 30% margin,
#: UTKFace's 200x200 crops about 0.39, DFDC's MTCNN crops 0.44-0.89 (docs/forensics.md).
MIN_CROP_INSIDE = 0.25


def crop_inside_share(crop_to_image: np.ndarray, crop_size: int, shape: tuple[int, ...]) -> float:
    """Share of a crop's pixels (a 16x16 grid of them) that map inside the image."""
    grid = (np.arange(16) + 0.5) * crop_size / 16 - 0.5
    xx, yy = np.meshgrid(grid, grid)
    points = np.stack([xx.ravel(), yy.ravel()], axis=1) @ crop_to_image[:, :2].T + crop_to_image[:, 2]
    inside = (points[:, 0] >= -0.5) & (points[:, 0] < shape[1] - 0.5) & (points[:, 1] >= -0.5) & (points[:, 1] < shape[0] - 0.5)
    return float(inside.mean())


def heatmap_region(heatmap: np.ndarray, crop_to_image: np.ndarray, crop_size: int,
                   level: float = REGION_LEVEL) -> tuple[float, float, float, float] | None:
    """Image-space box around the heat-map cells >= ``level`` (None when there are none)."""
    rows, cols = np.nonzero(heatmap >= level)
    if len(rows) == 0:
        return None
    cell = crop_size / heatmap.shape[0]
    x1, x2 = cols.min() * cell, (cols.max() + 1) * cell
    y1, y2 = rows.min() * cell, (rows.max() + 1) * cell
    corners = np.array([[x1, y1], [x2, y1], [x1, y2], [x2, y2]]) - 0.5
    mapped = corners @ crop_to_image[:, :2].T + crop_to_image[:, 2]
    return (float(mapped[:, 0].min()), float(mapped[:, 1].min()), float(mapped[:, 0].max()), float(mapped[:, 1].max()))


def heatmap_on_image(result: ForgeryResult, shape: tuple[int, int]) -> np.ndarray | None:
    """The result's heat map warped onto the image: (H, W) float32 in [0, 1], zero outside the crop."""
    import cv2

    if result.heatmap is None or result.crop_to_image is None:
        return None
    upsampled = cv2.resize(result.heatmap.astype(np.float32), (result.crop_size, result.crop_size),
                           interpolation=cv2.INTER_LINEAR)
    return cv2.warpAffine(upsampled, result.crop_to_image, (shape[1], shape[0]), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)


def _face_region(image: np.ndarray, face: Face) -> np.ndarray:
    x1, y1, x2, y2 = (int(round(v)) for v in face.box)
    region = image[max(0, y1):max(0, y2), max(0, x1):max(0, x2)]
    return region if region.size else image


class ForgeryChecker:
    """Scores faces with a registered forgery detector and decides at a threshold.

    >>> checker = ForgeryChecker()                       # the project's SBI detector, YuNet faces
    >>> for item in checker.check("photo.jpg"):          # doctest: +SKIP
    ...     print(item.face.box, item.result.status, item.result.score, item.result.region)

    ``crop_fallback``: the inputs are face crops (e.g. a DFDC crop dataset); where no face
    is detected the whole image is taken as the face.
    """

    def __init__(self, detector: str = DEFAULT_FORGERY_DETECTOR, threshold: float | None = None,
                 face_detector: str = DEFAULT_CHECK_DETECTOR, recognizer: str = DEFAULT_RECOGNIZER,
                 analyzer: Any = None,
                 device: str = "cpu", min_face_side: float = MIN_FACE_SIDE, crop_fallback: bool = False,
                 detector_options: dict[str, Any] | None = None) -> None:
        from facetrust.forensics import FORGERY_DETECTORS

        detector_class = FORGERY_DETECTORS.get_class(detector)  # fail fast on an unknown name
        if threshold is not None and not (isinstance(threshold, (int, float)) and 0 <= threshold <= 1):
            raise ConfigError(f"threshold must be a probability in [0, 1], got {threshold!r}")
        if min_face_side <= 0:
            raise ConfigError(f"min_face_side must be positive, got {min_face_side!r}")
        self.detector_name = detector
        # a detector may declare its own operating point (calibrated on real colour faces, docs/forensics.md)
        self.threshold = float(getattr(detector_class, "default_threshold", DEFAULT_THRESHOLD)
                               if threshold is None else threshold)
        self.face_detector = face_detector if analyzer is None else analyzer.config.detector
        self.recognizer = recognizer
        self.device = device
        self.min_face_side = float(min_face_side)
        self.crop_fallback = crop_fallback
        self._detector_options = dict(detector_options or {})
        self._detector: ForgeryDetector | None = None
        self._analyzer = analyzer

    @property
    def detector(self) -> ForgeryDetector:
        if self._detector is None:
            from facetrust.analyzer import _create
            from facetrust.forensics import FORGERY_DETECTORS

            self._detector = _create(FORGERY_DETECTORS, self.detector_name, self._detector_options, self.device)
        return self._detector

    @property
    def analyzer(self) -> Any:
        if self._analyzer is None:
            from facetrust.analyzer import FaceAnalyzer

            self._analyzer = FaceAnalyzer(detector=self.face_detector, recognizer=self.recognizer, device=self.device)
        return self._analyzer

    def load_models(self) -> None:
        """Load the forgery model and the face detector now: a missing model file fails
        once, before a run over many inputs, instead of once per input."""
        self.detector, self.analyzer.detector  # noqa: B018 - the properties load the models

    @property
    def name(self) -> str:
        return getattr(self.detector, "name", self.detector_name) if self._detector else self.detector_name

    def _unavailable(self, code: ReasonCode, reason: str) -> ForgeryResult:
        return ForgeryResult("unavailable", None, self.threshold, self.name, reason, reason_code=code)

    def decide(self, scores: ForgeryScores) -> ForgeryResult:
        status = "fake" if scores.score >= self.threshold else "real"
        region = None
        if scores.heatmap is not None and scores.crop_to_image is not None:
            region = heatmap_region(scores.heatmap, scores.crop_to_image, scores.crop_size)
        return ForgeryResult(status, scores.score, self.threshold, self.name, None, scores.heatmap,
                             scores.crop_to_image, scores.crop_size, region,
                             dict(scores.model_scores) or {self.name: scores.score})

    def unavailable_reason(self, face: Face) -> tuple[ReasonCode, str] | None:
        """(code, sentence) when the face cannot be judged before any model runs, else None."""
        if face.landmarks is None:
            return "no_landmarks", "no landmarks for this face"
        side = min(face.box[2] - face.box[0], face.box[3] - face.box[1])
        if side < self.min_face_side:
            return "face_too_small", f"face too small: {side:.0f} px, the minimum is {self.min_face_side:.0f} px"
        return None

    def check_face(self, image: np.ndarray, face: Face) -> ForgeryResult:
        """Forgery result of one face of an RGB uint8 image (from :meth:`FaceAnalyzer.load`).

        Unavailable besides :meth:`unavailable_reason`: a grayscale face for a detector that reads
        colour (``needs_colour``), and a face crop so tight that under :data:`MIN_CROP_INSIDE` of
        the detector's crop is image pixels."""
        from facetrust.forensics.synthesis import is_gray

        reason = self.unavailable_reason(face)
        if reason is not None:
            return self._unavailable(*reason)
        if getattr(self.detector, "needs_colour", False) and is_gray(_face_region(image, face)):
            return self._unavailable("grayscale", f"grayscale face: {self.name} was trained or calibrated on colour "
                                     "faces only; its threshold does not hold for gray faces")
        scores = self.detector.predict(image, face.landmarks)
        if scores.crop_to_image is not None:
            share = crop_inside_share(scores.crop_to_image, scores.crop_size, image.shape)
            if share < MIN_CROP_INSIDE:
                return self._unavailable("tight_crop", f"the face fills the image: {share:.0%} of the detector's "
                                         f"crop is image pixels, the minimum is {MIN_CROP_INSIDE:.0%}; give the image "
                                         "with the scene around the face")
        return self.decide(scores)

    def detect(self, image: np.ndarray) -> list[Face]:
        from facetrust.forensics.faces import detect_faces

        return detect_faces(self.analyzer, image, crop_fallback=self.crop_fallback)

    def annotate(self, image: np.ndarray, faces: Sequence[Face]) -> list[Face]:
        """Add ``extras["forgery"]`` (the result as a dict) to faces an analyzer found in ``image``."""
        for face in faces:
            face.extras["forgery"] = self.check_face(image, face).to_dict()
        return list(faces)

    def check_rgb(self, image: np.ndarray) -> list[FaceForgery]:
        """Every face (largest first) with its result; an empty list when there is no face."""
        return [FaceForgery(face, self.check_face(image, face)) for face in self.detect(image)]

    def check(self, source: ImageSource) -> list[FaceForgery]:
        """Forgery results of every face in an image, largest first; FaceNotFoundError if none."""
        results = self.check_rgb(self.analyzer.load(source))
        if not results:
            where = f" in {source}" if isinstance(source, (str, Path)) else ""
            raise FaceNotFoundError(f"no face found{where}")
        return results

    def check_video(self, path: str | Path, every_seconds: float = 0.2, max_frames: int | None = 100,
                    progress: Any = False) -> Any:
        """Per-track forgery scores, identity drift and suspicious segments (:func:`facetrust.forensics.video.check_video`);
        ``progress``: True for a bar on stderr, or a ``(done, total)`` callback (:mod:`facetrust.progress`)."""
        from facetrust.forensics.video import check_video

        return check_video(self, path, every_seconds=every_seconds, max_frames=max_frames, progress=progress)

