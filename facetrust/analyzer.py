"""The face pipeline: detect → landmarks → align → embed → verify."""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np

from facetrust.checks import FaceCheck, check_options, create_check
from facetrust.errors import ConfigError, DeviceUnavailableError, FaceNotFoundError
from facetrust.io.image import ImageSource, load_image
from facetrust.types import Detection, Face, Verification, describe_array

FaceSelection = Literal["largest", "best", "center"] | int
#: verify's selection: one rule for both images, a pair of rules, or the most similar pair of faces.
VerifySelection = FaceSelection | Literal["best-pair"] | tuple[FaceSelection, FaceSelection]
BEST_PAIR = "best-pair"
VERIFY_SELECTIONS = ("largest", "best", "center", BEST_PAIR)
#: Smallest and largest side of an aligned crop, in pixels.
CROP_SIZE_RANGE = (16, 4096)
#: Overlap at which a face of ``check_detector`` is the same face as the analyzer's (RetinaFace's
#: and YuNet's boxes of one face overlap with IoU 0.86 at the 10th percentile on LFW, docs/detection.md).
CHECK_FACE_IOU = 0.5


@dataclass(frozen=True)
class AnalyzerConfig:
    """Everything that defines an analyzer; picklable, so worker processes can rebuild it.

    ``detector`` and ``recognizer`` left as None come from ``preset`` (:mod:`facetrust.presets`;
    None: the default preset), with the preset's options under any given; after construction
    all three hold names.
    """

    detector: str = None  # type: ignore[assignment]  # None until __post_init__: the preset's
    recognizer: str = None  # type: ignore[assignment]
    detector_options: dict[str, Any] = field(default_factory=dict)
    recognizer_options: dict[str, Any] = field(default_factory=dict)
    #: Execution device for ONNX components ("cpu", "cuda", …); dlib runs on the CPU only.
    device: str = "cpu"
    max_pixels: int | None = None
    #: For pre-cropped datasets (e.g. LFW): when no face is detected, use this box,
    #: given as fractions (x1, y1, x2, y2) of the image size; such faces get score 0
    #: and ``extras["fallback"] = True``.
    fallback_box: tuple[float, float, float, float] | None = None
    #: Per-face checks run by :meth:`FaceAnalyzer.analyze` (names in
    #: :data:`facetrust.checks.FACE_CHECKS`, e.g. "quality", "liveness", "forgery", or a
    #: plugin's "module:Class"); results land in ``face.extras[name]``.
    checks: tuple[str, ...] = ()
    #: Options per check, e.g. ``{"forgery": {"model": "fusion"}}``.
    check_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Named detector + recognizer pair (``facetrust.presets.PRESETS``); None = the default preset.
    preset: str | None = None
    #: Face detector whose boxes and landmarks the checks measured on it (liveness, forgery:
    #: ``reads_check_detector``) read instead of the analyzer's, one extra detection per image,
    #: matched to the analyzer's faces by IoU (:meth:`FaceAnalyzer.run_checks`). None: every
    #: check reads the analyzer's faces. Comes from the preset together with its detector (the
    #: fallback of the rule in docs/detection.md; no shipped preset sets one today).
    check_detector: str | None = None

    def __post_init__(self) -> None:
        from facetrust.presets import get_preset

        preset = get_preset(self.preset)
        object.__setattr__(self, "preset", preset.name)
        if self.detector is None:
            object.__setattr__(self, "detector", preset.detector)
            object.__setattr__(self, "detector_options", {**preset.detector_options, **self.detector_options})
            if self.check_detector is None:
                object.__setattr__(self, "check_detector", preset.check_detector)
        if self.recognizer is None:
            object.__setattr__(self, "recognizer", preset.recognizer)
            object.__setattr__(self, "recognizer_options", {**preset.recognizer_options, **self.recognizer_options})


@dataclass(frozen=True)
class Embeddings:
    """Batch result of :meth:`FaceAnalyzer.embed`: one row per input image."""

    vectors: np.ndarray  # (N, dim) float32; zero rows where no face was found
    found: np.ndarray  # (N,) bool
    faces: list[Face | None]

    def __repr__(self) -> str:
        return (f"Embeddings({len(self.found)} images, {int(np.count_nonzero(self.found))} with a face, "
                f"vectors={describe_array(self.vectors)})")


class FaceAnalyzer:
    """Configured with registry names; components load on first use, once.

    >>> analyzer = FaceAnalyzer()                      # the default preset, "balanced"
    >>> analyzer = FaceAnalyzer(preset="dlib")         # or detector=…, recognizer=…
    >>> faces = analyzer.analyze("photo.jpg")          # doctest: +SKIP
    >>> result = analyzer.verify("a.jpg", "b.jpg")     # doctest: +SKIP
    """

    def __init__(self, config: AnalyzerConfig | None = None, **overrides: Any) -> None:
        from facetrust.detection import DETECTORS
        from facetrust.recognition import RECOGNIZERS

        if config is not None and overrides:
            raise ConfigError("pass either a config or keyword options, not both")
        self.config = AnalyzerConfig(**overrides) if config is None else config
        # Fail fast on unknown names and bad options, before any model loads.
        DETECTORS.check_options(self.config.detector, self.config.detector_options)
        if self.config.check_detector is not None:
            DETECTORS.get_class(self.config.check_detector)
        RECOGNIZERS.check_options(self.config.recognizer, self.config.recognizer_options)
        unknown = set(self.config.check_options) - set(self.config.checks)
        if unknown:
            raise ConfigError(f"options given for checks that are not enabled: {', '.join(sorted(unknown))}")
        for spec in self.config.checks:
            check_options(spec, self.config.check_options.get(spec))
        self._detector: Any = None
        self._recognizer: Any = None
        self._checks: list[FaceCheck] | None = None
        self._check_detector: Any = None

    @property
    def detector(self) -> Any:
        if self._detector is None:
            from facetrust.detection import DETECTORS

            self._detector = _create(DETECTORS, self.config.detector, self.config.detector_options, self.config.device)
        return self._detector

    @property
    def recognizer(self) -> Any:
        if self._recognizer is None:
            from facetrust.recognition import RECOGNIZERS

            self._recognizer = _create(
                RECOGNIZERS, self.config.recognizer, self.config.recognizer_options, self.config.device
            )
        return self._recognizer

    @property
    def checks(self) -> list[FaceCheck]:
        """The configured per-face checks, built on first use."""
        if self._checks is None:
            self._checks = [create_check(spec, self, self.config.check_options.get(spec))
                            for spec in self.config.checks]
        return self._checks

    def load_models(self) -> None:
        """Load every model now (detector, recognizer, each check's own): a server calls this at
        start-up so that no request pays for loading, and a missing model fails there."""
        self.detector, self.recognizer  # noqa: B018 - the properties load the models
        for check in self.checks:
            preload = getattr(check, "load_models", None)
            if preload is not None:
                preload()
        if self._checks_use_own_detector():
            self._check_detector_instance()

    def run_checks(self, image: np.ndarray, faces: list[Face]) -> list[Face]:
        """Run every configured check on ``faces`` of ``image`` (results in ``face.extras``).

        Checks that declare ``reads_check_detector`` get the same faces as ``config.check_detector``
        finds them (when that is not the analyzer's detector): their crops and thresholds were
        measured on that detector's boxes and landmarks."""
        if faces:
            own: list[Face] | None = None
            for check in self.checks:
                if getattr(check, "reads_check_detector", False) and self._checks_use_own_detector():
                    own = self._check_detector_faces(image, faces) if own is None else own  # once per image
                    check(image, own)
                else:
                    check(image, faces)
        return faces

    def _checks_use_own_detector(self) -> bool:
        return self.config.check_detector not in (None, self.config.detector)

    def _check_detector_instance(self) -> Any:
        if self._check_detector is None:
            from facetrust.detection import DETECTORS

            self._check_detector = _create(DETECTORS, self.config.check_detector, {}, self.config.device)
        return self._check_detector

    def _check_detector_faces(self, image: np.ndarray, faces: list[Face]) -> list[Face]:
        """``faces`` with the box, score and landmarks of the check detector's face that overlaps
        each most (IoU >= ``CHECK_FACE_IOU``, one to one); a face it did not find keeps the
        analyzer's. Each shares its ``extras`` dict with the analyzer's face, so the checks'
        results land on the faces the caller holds."""
        from facetrust.detection.landmarks import add_landmarks
        from facetrust.tracking import iou

        detector = self._check_detector_instance()
        found = detector.detect(image)
        if not detector.provides_landmarks:
            found = [add_landmarks(image, d) for d in found]
        overlaps = sorted(((iou(f.box, d.box), i, j) for i, f in enumerate(faces) for j, d in enumerate(found)),
                          reverse=True)
        match: dict[int, Detection] = {}
        taken: set[int] = set()
        for overlap, i, j in overlaps:
            if overlap < CHECK_FACE_IOU:
                break
            if i not in match and j not in taken:
                match[i] = found[j]
                taken.add(j)
        return [Face(match[i].box, match[i].score, match[i].landmarks, extras=face.extras) if i in match else
                Face(face.box, face.score, face.landmarks, extras=face.extras) for i, face in enumerate(faces)]

    def load(self, source: ImageSource) -> np.ndarray:
        return load_image(source, self.config.max_pixels)

    # -- detection ---------------------------------------------------------
    def detect_rgb(self, image: np.ndarray) -> list[Detection]:
        """Detections with 5 landmarks each, largest face first."""
        from facetrust.detection.landmarks import add_landmarks

        detections = self.detector.detect(image)
        if not self.detector.provides_landmarks:
            detections = [add_landmarks(image, d) for d in detections]
        if not detections and self.config.fallback_box is not None:
            height, width = image.shape[:2]
            x1, y1, x2, y2 = self.config.fallback_box
            box = (x1 * width, y1 * height, x2 * width, y2 * height)
            detections = [add_landmarks(image, Detection(box, 0.0, fallback=True))]
        return detections

    @staticmethod
    def _faces(detections: list[Detection]) -> list[Face]:
        return [Face(d.box, d.score, d.landmarks, extras={"fallback": True} if d.fallback else {}) for d in detections]

    def detect(self, source: ImageSource) -> list[Face]:
        return self._faces(self.detect_rgb(self.load(source)))

    # -- embedding ---------------------------------------------------------
    def analyze_rgb(self, image: np.ndarray, embed: bool = True, keep_aligned: bool = False,
                    checks: bool = True) -> list[Face]:
        """Every face with box, score, landmarks, (by default) embedding and the configured checks."""
        return self.analyze_batch([image], embed=embed, keep_aligned=keep_aligned, checks=checks)[0]

    def analyze_batch(self, images: Sequence[np.ndarray], embed: bool = True, keep_aligned: bool = False,
                      checks: bool = True) -> list[list[Face]]:
        """:meth:`analyze_rgb` of each image, with the faces of all images embedded in one batch
        (one inference call instead of one per image: faster for the small ONNX recognizers)."""
        detections = [self.detect_rgb(image) for image in images]
        faces = [self._faces(found) for found in detections]
        if embed or keep_aligned:
            crops = [self.recognizer.align(image, d) for image, found in zip(images, detections) for d in found]
            flat = [face for image_faces in faces for face in image_faces]
            if keep_aligned:
                for face, crop in zip(flat, crops):
                    face.aligned = crop
            if embed and crops:
                for face, vector in zip(flat, self.recognizer.embed_aligned(crops)):
                    face.embedding = vector
        if checks:
            for image, image_faces in zip(images, faces):
                self.run_checks(image, image_faces)
        return faces

    def analyze(self, source: ImageSource, embed: bool = True, keep_aligned: bool = False,
                checks: bool = True) -> list[Face]:
        """Every face in the image with box, score, landmarks, (by default) embedding and the configured checks."""
        return self.analyze_rgb(self.load(source), embed=embed, keep_aligned=keep_aligned, checks=checks)

    def embed(self, sources: Sequence[ImageSource], select: FaceSelection = "largest") -> Embeddings:
        """One embedding per image (the selected face), computed in one batch."""
        faces: list[Face | None] = []
        crops: list[np.ndarray] = []
        for source in sources:
            image = self.load(source)
            detections = self.detect_rgb(image)
            if not detections:
                faces.append(None)
                continue
            chosen = detections[select_face(detections, select, image.shape)]
            faces.append(self._faces([chosen])[0])
            crops.append(self.recognizer.align(image, chosen))
        found = np.array([f is not None for f in faces], dtype=bool)
        vectors = np.zeros((len(faces), self.recognizer.dim), dtype=np.float32)
        if crops:
            vectors[found] = self.recognizer.embed_aligned(crops)
        for face, vector in zip((f for f in faces if f is not None), vectors[found]):
            face.embedding = vector
        return Embeddings(vectors, found, faces)

    # -- verification ------------------------------------------------------
    def threshold(self, fmr: float | None = None) -> float:
        from facetrust.recognition.calibration import DEFAULT_FMR, load_calibration

        return load_calibration(self.config.recognizer).threshold_at(DEFAULT_FMR if fmr is None else fmr)

    def verify(
        self,
        source_a: ImageSource,
        source_b: ImageSource,
        fmr: float | None = None,
        select: VerifySelection = "largest",
    ) -> Verification:
        """Compare the selected face of each image (default: the largest).

        ``select`` applies to both images, or give a pair ``(select_a, select_b)``.
        ``select="best-pair"`` compares every face of a with every face of b and keeps the most
        similar pair (as deepface does); the threshold is calibrated for one comparison, so the
        best of k*m comparisons falsely matches strangers more often than ``fmr``, up to k*m times
        (see ``Verification.comparisons`` and ``fmr_upper_bound``).
        Raises :class:`FaceNotFoundError` naming the image without a face.
        """
        from facetrust.recognition.calibration import DEFAULT_FMR

        selections = select if isinstance(select, tuple) else (select, select)
        for selection in selections:
            if isinstance(selection, str) and selection not in VERIFY_SELECTIONS:
                raise ConfigError("select must be 'largest', 'best', 'center', 'best-pair' or a face index, "
                                  f"got {selection!r}")
        if isinstance(select, tuple) and BEST_PAIR in select:
            raise ConfigError("best-pair chooses the faces of both images together: pass it alone, not in a pair")
        fmr = DEFAULT_FMR if fmr is None else fmr
        threshold = self.threshold(fmr)
        images, found = [], []
        for label, source in (("a", source_a), ("b", source_b)):
            image = self.load(source)
            faces = self.analyze_rgb(image, checks=False)
            if not faces:
                raise FaceNotFoundError(f"no face found in image {label}{_describe(source)}")
            images.append(image)
            found.append(faces)
        if select == BEST_PAIR:
            similarities = np.stack([f.embedding for f in found[0]]) @ np.stack([f.embedding for f in found[1]]).T
            indices = [int(i) for i in np.unravel_index(int(np.argmax(similarities)), similarities.shape)]
        else:
            indices = [select_face(faces, selection, image.shape) % len(faces)
                       for faces, selection, image in zip(found, selections, images)]
        chosen = [self.run_checks(image, [faces[index]])[0] for image, faces, index in zip(images, found, indices)]
        similarity = float(np.dot(chosen[0].embedding, chosen[1].embedding))
        comparisons = len(found[0]) * len(found[1]) if select == BEST_PAIR else 1
        return Verification(similarity, threshold, fmr, similarity >= threshold, chosen[0], chosen[1],
                            len(found[0]), len(found[1]), indices[0], indices[1], comparisons)

    # -- aligned crops -----------------------------------------------------
    def extract(self, source: ImageSource, size: int = 112, select: FaceSelection | Literal["all"] = "all") -> list[Face]:
        """Aligned crops of the faces in an image, largest first: each face's 5 landmarks warped
        onto the ArcFace template scaled to ``size`` x ``size`` px, in ``face.aligned`` (RGB uint8).
        ``select``: "all" faces, or one ('largest', 'best', 'center' or an index). An image
        without a face gives an empty list. To write crops to files see
        :func:`facetrust.extract.extract_files`."""
        from facetrust.alignment import align_arcface

        check_crop_size(size)
        if select != "all" and not (select in ("largest", "best", "center")
                                    or (isinstance(select, int) and not isinstance(select, bool))):
            raise ConfigError(f"select must be 'all', 'largest', 'best', 'center' or a face index, got {select!r}")
        image = self.load(source)
        detections = self.detect_rgb(image)
        if select != "all" and detections:
            detections = [detections[select_face(detections, select, image.shape)]]
        faces = self._faces(detections)
        for face in faces:
            face.aligned = align_arcface(image, face.landmarks, size)
        return faces


def check_crop_size(size: Any) -> None:
    """:class:`ConfigError` unless ``size`` is an integer within :data:`CROP_SIZE_RANGE`."""
    low, high = CROP_SIZE_RANGE
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not low <= size <= high:
        raise ConfigError(f"crop size must be an integer from {low} to {high} px, got {size!r}")


def _create(registry: Any, name: str, options: dict[str, Any], device: str) -> Any:
    """Build a component, handing it the device if it takes one; a non-CPU
    device for a CPU-only component is an error, never a silent fallback."""
    accepts_device = "device" in inspect.signature(registry.get_class(name)).parameters
    if accepts_device and "device" not in options:
        options = {**options, "device": device}
    elif not accepts_device and device != "cpu":
        raise DeviceUnavailableError(f"{registry.kind} {name!r} runs on the CPU only (device {device!r} requested)")
    return registry.create(name, **options)


def select_face(faces: Sequence[Face | Detection], select: FaceSelection, shape: tuple[int, ...]) -> int:
    """Index of the chosen face. Faces arrive largest first; 'best' = highest
    detection score; 'center' = box centre nearest the image centre; an int picks by index."""
    if select == "largest":
        return 0
    if select == "best":
        return int(np.argmax([f.score for f in faces]))
    if select == "center":
        centre = np.array([shape[1] / 2.0, shape[0] / 2.0])
        boxes = np.array([f.box for f in faces], dtype=np.float64)
        return int(np.argmin(np.linalg.norm((boxes[:, :2] + boxes[:, 2:]) / 2.0 - centre, axis=1)))
    if isinstance(select, int) and not isinstance(select, bool):
        if not -len(faces) <= select < len(faces):
            raise ConfigError(f"face index {select} out of range: {len(faces)} face(s) found")
        return select
    raise ConfigError(f"select must be 'largest', 'best', 'center' or a face index, got {select!r}")


def _describe(source: ImageSource) -> str:
    return f" ({source})" if isinstance(source, (str, Path)) else ""
