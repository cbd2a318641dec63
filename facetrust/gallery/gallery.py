"""The gallery API: enrol identities from images or embeddings, search, manage, export.

>>> from facetrust.gallery import Gallery
>>> with Gallery.create("staff.gallery") as gallery:                     # doctest: +SKIP
...     gallery.enroll("obama", ["obama.jpg"], name="Barack Obama", metadata={"team": "a"})
...     result = gallery.search("unknown.jpg")
...     print(result.identity, result.matches[0].score)
"""
from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

import numpy as np

from facetrust.defaults import DEFAULT_RECOGNIZER
from facetrust.errors import (
    ConfigError, EmbeddingError, FacetrustError, FaceNotFoundError, GalleryError, LowQualityError, ModelMismatchError,
    WrongKeyError,
)
from facetrust.gallery.base import (
    DamagedTemplateWarning, EnrollRecord, Fusion, GalleryBackend, Identity, IndexConfig, IntegrityReport,
    ModelIdentity, NewTemplate, OnDuplicate, QualityPolicy, Removal, SearchResult, check_identity_id, check_quality,
    dump_metadata, fuse, fuse_by_quality, model_identity,
)
from facetrust.gallery.enrolment import EnrolmentFace
from facetrust.gallery.identity_id import check_new_identity_id
from facetrust.progress import Progress
from facetrust.types import Face

if TYPE_CHECKING:
    from facetrust.analyzer import FaceAnalyzer
    from facetrust.io.image import ImageSource
    from facetrust.privacy.encryption import TemplateCipher
    from facetrust.quality import QualityAssessor

#: Warn, not reject, by default: the shipped ``learned`` threshold refuses about 11% of ordinary
#: LFW photos by design, often with no defect a person could fix (docs/gallery.md).
DEFAULT_QUALITY_POLICY: QualityPolicy = "warn"
#: ``quality-mean`` re-ranks the identities of the best-matching templates: at least this many (or k).
FUSION_POOL = 32


def _check_backend_options(backend: str, method: Any, options: dict[str, Any]) -> None:
    """A :class:`ConfigError` naming the options ``backend`` does not take (its ``create``/``open``
    keywords after location, model, readonly and index), instead of a TypeError from the call."""
    import inspect

    accepted = [n for n, p in inspect.signature(method).parameters.items()
                if p.kind is p.KEYWORD_ONLY or (p.kind is p.POSITIONAL_OR_KEYWORD
                                                 and n not in ("location", "model", "readonly", "index"))]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ConfigError(f"the {backend} gallery backend has no option {', '.join(map(repr, unknown))} "
                          f"(known: {', '.join(accepted) or 'none'})")


def default_quality_method(recognizer: str, detector: str | None = None) -> str:
    """The quality method a gallery of ``recognizer`` (and ``detector``) uses by default
    (:func:`facetrust.quality.default_method`)."""
    from facetrust.quality import default_method

    return default_method(recognizer, detector)


def backend_for(location: str | os.PathLike[str]) -> str:
    """``postgres`` for ``postgresql://`` URLs, else the embedded ``sqlite`` backend."""
    return "postgres" if str(location).startswith(("postgresql://", "postgres://")) else "sqlite"


@dataclass
class FolderReport:
    """Outcome of :meth:`Gallery.enroll_folder`."""

    enrolled: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already enrolled (a resumed run)
    failed: dict[str, str] = field(default_factory=dict)  # image path -> reason it gave no template

    def to_dict(self) -> dict[str, Any]:
        return {"enrolled": len(self.enrolled), "skipped": len(self.skipped), "failed": self.failed}


class Gallery:
    """A 1:N identification gallery tied to one recognizer (name + model sha256).

    Search fuses an identity's templates by their **maximum** similarity, and
    decides "enrolled" when the best identity's score reaches the threshold
    (default: the recognizer's threshold calibrated at FMR 1e-3; with N enrolled
    identities the chance that an unknown face matches someone is up to N times that).
    Enrolment images must show exactly one face unless ``select`` picks one, and pass the
    quality gate: each face's quality (``quality_method``; default ``learned`` where a model for
    the recognizer ships, else ``explainable``) is stored with its template, and a face below the
    method's threshold is refused (``quality_policy="reject"``), enrolled with a
    :class:`LowQualityWarning` (``"warn"``, the default) or enrolled silently (``"off"``).
    """

    def __init__(self, backend: GalleryBackend, analyzer: "FaceAnalyzer | None" = None, *,
                 quality_policy: QualityPolicy = DEFAULT_QUALITY_POLICY,
                 quality_method: str | QualityAssessor | None = None, key: Any = None) -> None:
        from facetrust.privacy.gallery import open_protector

        self.backend = backend
        self.model: ModelIdentity = backend.model
        # Protected galleries (facetrust.privacy): embeddings are protected on the way in.
        self._protector = open_protector(self.model, key)
        self._store_as_is = False  # True while importing templates that are already protected
        self._analyzer: FaceAnalyzer | None = None
        self._quality_method = quality_method
        self._assessor: QualityAssessor | None = None
        self.quality_policy: QualityPolicy = _check_policy(quality_policy)
        if analyzer is not None:
            self.analyzer = analyzer

    # -- construction ------------------------------------------------------
    @classmethod
    def create(cls, location: str | os.PathLike[str], recognizer: str | ModelIdentity | None = None, *,
               analyzer: "FaceAnalyzer | None" = None, backend: str | None = None, index: IndexConfig | None = None,
               quality_policy: QualityPolicy = DEFAULT_QUALITY_POLICY,
               quality_method: str | QualityAssessor | None = None, exist_ok: bool = False,
               protection: Any = None, key: Any = None, protection_options: dict[str, Any] | None = None,
               encrypt: bool = False, encryption_key: Any = None, **options: Any) -> "Gallery":
        """A new, empty gallery. ``recognizer`` defaults to the analyzer's (else the default
        recognizer); pass a :class:`ModelIdentity` for embeddings from a model outside the zoo.
        ``exist_ok=True`` opens the gallery when it exists already (it must be of the same
        recognizer and protection), so a script that creates its gallery can run again.
        ``protection`` (a scheme of ``facetrust.privacy.PROTECTIONS`` or a protector) stores only
        protected templates, under ``key`` (a key, a key file, or None: ``$FACETRUST_PRIVACY_KEY``).
        ``encrypt=True`` or an ``encryption_key`` (a key, a key file; None: ``$FACETRUST_ENCRYPTION_KEY``
        or ``$FACETRUST_ENCRYPTION_KEY_FILE``) encrypts the stored vectors and the index file at rest
        (AES-256-GCM, :mod:`facetrust.privacy.encryption`; on PostgreSQL, search then runs in memory
        over the decrypted vectors, not in pgvector)."""
        from facetrust.gallery import BACKENDS

        if isinstance(recognizer, ModelIdentity):
            model = recognizer
        else:
            model = model_identity(recognizer or (analyzer.config.recognizer if analyzer else DEFAULT_RECOGNIZER))
        if protection is not None:
            from facetrust.privacy.gallery import protected_model

            model, protector = protected_model(model, protection, key, protection_options)
            key = protector.key
        name = backend or backend_for(location)
        # An explicit encryption= (e.g. "sqlcipher") asks for encryption even when the key comes from the environment.
        if encrypt or encryption_key is not None or options.get("encryption") is not None:
            from facetrust.privacy.encryption import load_encryption_key

            _check_encryptable(name)
            options["encryption_key"] = load_encryption_key(encryption_key)
        kind = BACKENDS.get_class(name)
        _check_backend_options(name, kind.create, options)
        try:
            store = kind.create(location, model, index, **options)
        except GalleryError as exc:
            if not exist_ok or "already exists" not in str(exc):
                raise
            store = kind.open(location, False, index, **options)
            if store.model != model:
                store.close()
                theirs, mine = store.model.protection or {}, model.protection or {}
                if theirs and mine and theirs.get("key_fingerprint") != mine.get("key_fingerprint"):
                    raise WrongKeyError(f"{location} exists and is protected with key {theirs.get('key_fingerprint')}, "
                                        f"but the key given has fingerprint {mine.get('key_fingerprint')}") from None
                raise ModelMismatchError(f"{location} exists and holds {store.model}, not {model}") from None
        return cls._over(store, analyzer, quality_policy, quality_method, key)

    @classmethod
    def open(cls, location: str | os.PathLike[str], *, analyzer: "FaceAnalyzer | None" = None,
             readonly: bool = False, backend: str | None = None, index: IndexConfig | None = None,
             quality_policy: QualityPolicy = DEFAULT_QUALITY_POLICY,
             quality_method: str | QualityAssessor | None = None, key: Any = None, encryption_key: Any = None,
             **options: Any) -> "Gallery":
        """An existing gallery; a protected one needs its ``key`` (a key, a key file, or None:
        ``$FACETRUST_PRIVACY_KEY``) and refuses one with another fingerprint; an encrypted one its
        ``encryption_key`` (None: ``$FACETRUST_ENCRYPTION_KEY`` or ``$FACETRUST_ENCRYPTION_KEY_FILE``)."""
        from facetrust.gallery import BACKENDS

        name = backend or backend_for(location)
        if encryption_key is not None:
            _check_encryptable(name)
        options["encryption_key"] = encryption_key
        kind = BACKENDS.get_class(name)
        _check_backend_options(name, kind.open, options)
        store = kind.open(location, readonly, index, **options)
        return cls._over(store, analyzer, quality_policy, quality_method, key)

    @classmethod
    def _over(cls, store: GalleryBackend, analyzer: "FaceAnalyzer | None", quality_policy: QualityPolicy,
              quality_method: str | QualityAssessor | None, key: Any = None) -> "Gallery":
        """The gallery over an opened store; the store is closed again if that fails (bad settings, wrong key)."""
        try:
            return cls(store, analyzer, quality_policy=quality_policy, quality_method=quality_method, key=key)
        except BaseException:
            store.close()
            raise

    @classmethod
    def from_export(cls, location: str | os.PathLike[str], export_file: str | os.PathLike[str], *,
                    progress: bool = False, export_key: Any = None, **create_options: Any) -> "Gallery":
        """Create a gallery with the export's model and import every identity of it. An encrypted
        export (``export_key``: its key, default the gallery's encryption key) makes an encrypted
        gallery unless ``encrypt`` or ``encryption_key`` say otherwise."""
        from facetrust.gallery.portable import read_header

        header = read_header(export_file)
        if header.get("encryption") and "encrypt" not in create_options and "encryption_key" not in create_options:
            create_options["encryption_key"] = export_key
            create_options["encrypt"] = True
        gallery = cls.create(location, header["model"], **create_options)
        try:
            gallery.import_file(export_file, progress=progress, encryption_key=export_key)
        except BaseException:
            gallery.close()
            raise
        return gallery

    def __enter__(self) -> "Gallery":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self.backend.close()

    @property
    def analyzer(self) -> "FaceAnalyzer":
        """Used for images; by default the gallery's recognizer with the detector of its preset
        (dlib-hog for a dlib-resnet gallery), else the default detector."""
        if self._analyzer is None:
            from facetrust.analyzer import FaceAnalyzer
            from facetrust.presets import preset_for_recognizer

            preset = preset_for_recognizer(self.model.name)
            self._analyzer = FaceAnalyzer(preset=preset.name if preset else None, recognizer=self.model.name)
        return self._analyzer

    @analyzer.setter
    def analyzer(self, analyzer: "FaceAnalyzer") -> None:
        self._check_model(analyzer.config.recognizer, "the analyzer's recognizer")
        self._analyzer = analyzer
        self._assessor = None  # assessors are matched to the analyzer's detector

    @property
    def quality_assessor(self) -> QualityAssessor:
        """Scores enrolment faces: the ``quality_method`` given (a registry name or an assessor),
        else :func:`default_quality_method` for the gallery's recognizer."""
        if self._assessor is None:
            from facetrust.gallery.enrolment import assessor_for
            from facetrust.quality import QualityAssessor

            method = self._quality_method
            self._assessor = method if isinstance(method, QualityAssessor) else assessor_for(self.analyzer, method)
        return self._assessor

    def _check_prepared(self, face: EnrolmentFace) -> None:
        """A face prepared elsewhere (an inference worker) must come from this gallery's recognizer
        and carry the quality method this gallery would have used for its detector."""
        self._check_model(face.recognizer, "the prepared faces")
        method = self._quality_method
        expected = (method if isinstance(method, str) else getattr(method, "name", None)
                    ) or default_quality_method(self.model.name, face.detector)
        if face.quality_method != expected:
            raise ConfigError(f"{face.label} was assessed with {face.quality_method!r}; this gallery enrols with "
                              f"quality method {expected!r}")

    def _check_model(self, model: str | ModelIdentity, what: str = "the embeddings") -> None:
        if isinstance(model, str):
            if model != self.model.name:
                from facetrust.presets import how_to_use

                # The file name only: a server's error must not reveal where its galleries live.
                name = self.backend.location if backend_for(self.backend.location) == "postgres" \
                    else Path(self.backend.location).name
                raise ModelMismatchError(f"{what} come from {model!r}, but gallery {name} was built with "
                                         f"{self.model.name}; open it with {how_to_use(self.model.name)}")
            model = model_identity(model)
        plain = ModelIdentity(self.model.name, self.model.sha256, self.model.input_dim)
        if model != (self.model if model.protection is not None else plain):
            raise ModelMismatchError(f"{what} come from {model}; this gallery holds {self.model}")

    # -- validation ----------------------------------------------------------
    def _vectors(self, embeddings: Any, model: str | ModelIdentity | None) -> np.ndarray:
        """(n, dim) float32 unit vectors, or a clear error."""
        if model is not None:
            self._check_model(model)
        try:
            array = np.asarray(embeddings, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise EmbeddingError(f"embeddings must be numeric arrays: {exc}") from None
        if array.ndim == 1:
            array = array[None, :]
        dim = self.model.dim if self._store_as_is else self.model.input_dim
        if array.ndim != 2 or array.shape[1] != dim:
            raise EmbeddingError(f"expected {dim}-d embeddings from {self.model.name}, "
                                 f"got an array of shape {np.shape(embeddings)}")
        if not np.isfinite(array).all():
            raise EmbeddingError("embeddings contain NaN or infinite values")
        norms = np.linalg.norm(array, axis=1)
        if (norms < 1e-6).any():
            raise EmbeddingError("an embedding is the zero vector")
        # Rows already of unit length are kept bit for bit (exports re-import exactly).
        unit = np.abs(norms - 1.0) < 1e-6
        vectors = np.where(unit[:, None], array, array / norms[:, None]).astype(np.float32)
        return self._protector.protect(vectors) if self._protector and not self._store_as_is else vectors

    def _templates(self, items: Any, model: str | ModelIdentity | None = None) -> list[NewTemplate]:
        """Validated templates from an array (1-D: one embedding, 2-D: one per row) or a
        sequence of vectors / :class:`NewTemplate` objects."""
        return self._templates_of_many([items], model)[0]

    def _templates_of_many(self, groups: Sequence[Any], model: str | ModelIdentity | None = None,
                           ) -> list[list[NewTemplate]]:
        """:meth:`_templates` for many identities at once (one validation pass: bulk enrolment)."""
        raws: list[Any] = []
        given: list[NewTemplate | None] = []
        sizes = []
        for items in groups:
            pairs = _split_templates(items)
            if not pairs:
                raise GalleryError("an identity needs at least one template (an image or an embedding)")
            raws += [raw for raw, _ in pairs]
            given += [template for _, template in pairs]
            sizes.append(len(pairs))
        rows = []
        for raw in raws:
            try:
                row = np.asarray(raw, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise EmbeddingError(f"embeddings must be numeric arrays: {exc}") from None
            dim = self.model.dim if self._store_as_is else self.model.input_dim
            if row.shape != (dim,):
                raise EmbeddingError(f"expected {dim}-d embeddings from {self.model.name}, "
                                     f"got an array of shape {row.shape}")
            rows.append(row)
        vectors = self._vectors(np.stack(rows), model)
        templates = [replace(t, vector=v, quality=check_quality(t.quality)) if t is not None else NewTemplate(v)
                     for v, t in zip(vectors, given)]
        bounds = np.cumsum([0] + sizes).tolist()
        return [templates[a:b] for a, b in zip(bounds[:-1], bounds[1:])]

    def _image_templates(self, images: Sequence[ImageSource | EnrolmentFace], select: Any,
                         policy: QualityPolicy | None) -> list[NewTemplate]:
        """One template record per image (:func:`~facetrust.gallery.enrolment.prepare_face`: the
        only face, or the one ``select`` picks), gated by ``policy`` (``None``: not assessed).
        An :class:`EnrolmentFace` prepared elsewhere (a server's inference worker) is taken as is."""
        from facetrust.gallery.enrolment import gate, prepare_face

        faces = []
        for image in images:
            if isinstance(image, EnrolmentFace):
                if policy is not None:
                    self._check_prepared(image)
                faces.append(image)
            else:
                faces.append(prepare_face(self.analyzer, image, select=select,
                                          quality=False if policy is None else self.quality_assessor))
        templates = gate(faces, policy or "off")
        vectors = self._vectors(np.stack([t.vector for t in templates]), None) if templates else []
        return [replace(t, vector=v) for t, v in zip(templates, vectors)]

    def _all_templates(self, images: Sequence[ImageSource] | ImageSource, embeddings: Any,
                       quality: Sequence[float | None] | None, select: Any,
                       model: str | ModelIdentity | None, policy: QualityPolicy | None) -> list[NewTemplate]:
        if _is_single_image(images):
            images = [images]  # type: ignore[list-item]
        images = list(images)  # type: ignore[arg-type]
        # Quality values given by the caller are stored as they are: no assessment, no gate.
        gate = None if quality is not None else _check_policy(policy or self.quality_policy)
        templates = self._image_templates(images, select, gate) if images else []
        if embeddings is not None:
            templates += self._templates(embeddings, model)
        if not templates:
            raise GalleryError("give at least one image or embedding")
        if quality is not None:
            if len(quality) != len(templates):
                raise GalleryError(f"{len(quality)} quality values for {len(templates)} templates")
            templates = [replace(t, quality=check_quality(q)) for t, q in zip(templates, quality)]
        return templates

    # -- enrolment -------------------------------------------------------------
    def enroll(self, identity_id: str, images: Sequence[ImageSource] | ImageSource = (), *, embeddings: Any = None,
               name: str | None = None, metadata: dict[str, Any] | None = None,
               quality: Sequence[float | None] | None = None, select: Any = None,
               model: str | ModelIdentity | None = None, quality_policy: QualityPolicy | None = None) -> Identity:
        """Enrol a new identity with one template per image and per embedding row, atomically:
        on any error (no face, two faces, a face refused by the quality gate, duplicate id, bad
        embedding) nothing is stored. Image faces are assessed and gated by ``quality_policy``
        (default: the gallery's); ``quality`` (one value per template, images first) is stored
        instead, without a gate; ``model`` names the recognizer that produced ``embeddings``."""
        check_new_identity_id(identity_id)
        meta = dump_metadata(metadata or {})
        templates = self._all_templates(images, embeddings, quality, select, model, quality_policy)
        self.backend.enroll([(identity_id, name, meta, templates)], "error")
        return self.backend.get(identity_id)

    def add_templates(self, identity_id: str, images: Sequence[ImageSource] | ImageSource = (), *,
                      embeddings: Any = None, quality: Sequence[float | None] | None = None, select: Any = None,
                      model: str | ModelIdentity | None = None,
                      quality_policy: QualityPolicy | None = None) -> list[int]:
        """More templates for an enrolled identity (atomically, gated like :meth:`enroll`); their ids."""
        templates = self._all_templates(images, embeddings, quality, select, model, quality_policy)
        return self.backend.add_templates(check_identity_id(identity_id), templates)

    def enroll_many(self, records: Iterable[EnrollRecord], *, batch_size: int = 1000,
                    on_duplicate: OnDuplicate = "error", progress: bool = False, total: int | None = None,
                    model: str | ModelIdentity | None = None) -> int:
        """Bulk enrolment of identities given as embeddings. Each batch of ``batch_size`` identities is
        one transaction: an interruption keeps whole batches only, and a rerun with
        ``on_duplicate="skip"`` resumes. Returns the number of identities inserted."""
        if on_duplicate not in ("error", "skip"):
            raise ConfigError(f"on_duplicate must be 'error' or 'skip', got {on_duplicate!r}")
        if model is not None:
            self._check_model(model)
        inserted = 0
        batch: list[EnrollRecord] = []
        for record in _progress(records, total, "enrolling", progress):
            batch.append(record)
            if len(batch) >= batch_size:
                inserted += self._enroll_batch(batch, on_duplicate)
                batch = []
        if batch:
            inserted += self._enroll_batch(batch, on_duplicate)
        return inserted

    def _enroll_batch(self, batch: list[EnrollRecord], on_duplicate: OnDuplicate) -> int:
        templates = self._templates_of_many([r.templates for r in batch])
        rows = [(check_identity_id(r.identity_id), r.name, dump_metadata(r.metadata) if r.metadata else "{}", t)
                for r, t in zip(batch, templates)]
        return len(self.backend.enroll(rows, on_duplicate))

    def enroll_folder(self, folder: str | os.PathLike[str], *, select: Any = None, workers: int = 1,
                      progress: bool = False, batch_size: int = 50,
                      quality_policy: QualityPolicy | None = None) -> FolderReport:
        """Enrol every sub-folder of ``folder`` as one identity (id = folder name), one template per
        image. Identities already enrolled are skipped, so an interrupted run resumes; images
        without exactly one face (unless ``select``) or refused by the quality gate
        (``quality_policy="reject"``) are reported in ``failed`` and the identity is enrolled with
        its other images."""
        from facetrust.io import expand_inputs
        from facetrust.parallel import analyze_paths, progress_map

        root = Path(folder)
        if not root.is_dir():
            raise GalleryError(f"{root} is not a folder")
        policy = _check_policy(quality_policy or self.quality_policy)
        report = FolderReport()
        folders = sorted(d for d in root.iterdir() if d.is_dir())
        done = self.backend.existing([d.name for d in folders])
        report.skipped = [d.name for d in folders if d.name in done]
        plan = [(d.name, expand_inputs([str(d)])) for d in folders if d.name not in done]
        paths = [p for _, images in plan for p in images]
        owners = iter([name for name, images in plan for _ in images])
        remaining = {name: len(images) for name, images in plan}
        pending: dict[str, list[NewTemplate]] = {}
        batch: list[tuple[str, str | None, str, list[NewTemplate]]] = []
        analyzer = self.analyzer
        results = analyze_paths(paths, analyzer.config, embed=True, workers=workers,
                                analyzer=analyzer if workers <= 1 else None)
        for result in progress_map(results, len(paths), "enrolling", enabled=progress):
            owner = next(owners)
            try:
                if result.error:
                    raise GalleryError(result.error)
                prepared = self._folder_face(result, select)
                if prepared.problem is not None and policy == "reject":
                    raise LowQualityError(prepared.problem)
                pending.setdefault(owner, []).extend(self._image_templates([prepared], None, policy))
            except FacetrustError as exc:
                report.failed[str(result.path)] = str(exc)
            remaining[owner] -= 1
            if remaining[owner] == 0 and pending.get(owner):
                batch.append((owner, None, "{}", pending.pop(owner)))
                if len(batch) >= batch_size:
                    report.enrolled += self.backend.enroll(batch, "skip")
                    batch = []
        if batch:
            report.enrolled += self.backend.enroll(batch, "skip")
        return report

    def _folder_face(self, result: Any, select: Any) -> EnrolmentFace:
        """:func:`~facetrust.gallery.enrolment.prepare_face` for a worker's analysis of a file: the
        same selection rule, quality assessment and record."""
        from facetrust.gallery.enrolment import assess, choose_face

        path = str(result.path)
        face = result.faces[choose_face(result.faces, select, (result.height, result.width), path)]
        config = self.analyzer.config
        prepared = EnrolmentFace(face.embedding, tuple(float(v) for v in face.box), config.detector,  # type: ignore[arg-type]
                                 config.recognizer, path, label=path)
        # Workers return faces, not pixels: the image is decoded again here for its quality.
        prepared.quality, prepared.problem = assess(self.quality_assessor, self.analyzer.load(result.path), face)
        prepared.quality_method = self.quality_assessor.name
        return prepared

    # -- search ------------------------------------------------------------------
    def threshold(self, fmr: float | None = None) -> float:
        """The recognizer's calibrated similarity threshold at ``fmr`` (default 1e-3)."""
        from facetrust.recognition.calibration import DEFAULT_FMR, load_calibration

        if self.model.protection is not None:
            from facetrust.privacy.gallery import protected_threshold

            return protected_threshold(self.model.protection, DEFAULT_FMR if fmr is None else fmr)
        return load_calibration(self.model.name).threshold_at(DEFAULT_FMR if fmr is None else fmr)

    def _decision(self, threshold: float | None, fmr: float | None) -> float:
        if threshold is not None and fmr is not None:
            raise ConfigError("give a threshold or an FMR, not both")
        if threshold is None:
            return self.threshold(fmr)
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
            raise ConfigError(f"threshold must be a finite number, got {threshold!r}")
        return float(threshold)

    def search_embeddings(self, embeddings: Any, *, k: int = 5, threshold: float | None = None,
                          fmr: float | None = None, model: str | ModelIdentity | None = None,
                          fusion: Fusion = "max") -> list[SearchResult]:
        """Top-``k`` identities for each embedding (one row per query). ``fusion``: an identity
        scores its best template (``max``), or its quality-weighted mean template
        (``quality-mean``: the identities of the best-matching templates, at least
        :data:`FUSION_POOL`, are re-ranked by it)."""
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ConfigError(f"k must be a positive integer, got {k!r}")
        if fusion not in ("max", "quality-mean"):
            raise ConfigError(f"fusion must be 'max' or 'quality-mean', got {fusion!r}")
        cut = self._decision(threshold, fmr)
        vectors = self._vectors(embeddings, model)
        if fusion == "max":
            return [SearchResult(fuse(candidates, k), cut) for candidates in self.backend.search(vectors, k)]
        candidates = self.backend.search(vectors, max(k, FUSION_POOL))
        templates = self.backend.templates_of(sorted({c.identity_id for found in candidates for c in found}))
        return [SearchResult(matches, cut) for matches in fuse_by_quality(vectors, candidates, templates, k)]

    def search_embedding(self, embedding: Any, **options: Any) -> SearchResult:
        vector = np.asarray(embedding)
        if vector.ndim != 1:
            raise EmbeddingError(f"search_embedding takes one embedding, got an array of shape {vector.shape}")
        return self.search_embeddings(vector, **options)[0]

    def search(self, image: ImageSource, *, k: int = 5, threshold: float | None = None, fmr: float | None = None,
               select: Any = "largest", fusion: Fusion = "max") -> SearchResult:
        """Identify the selected face of an image (default: the largest)."""
        from facetrust.analyzer import select_face

        analyzer = self.analyzer
        rgb = analyzer.load(image)
        detections = analyzer.detect_rgb(rgb)
        if not detections:
            label = f" in {image}" if isinstance(image, (str, Path)) else ""
            raise FaceNotFoundError(f"no face found{label}")
        chosen = detections[select_face(detections, select, rgb.shape)]
        embedding = analyzer.recognizer.embed_aligned([analyzer.recognizer.align(rgb, chosen)])[0]
        result = self.search_embedding(embedding, k=k, threshold=threshold, fmr=fmr, fusion=fusion)
        result.face = Face(chosen.box, chosen.score, chosen.landmarks, extras={"fallback": True} if chosen.fallback else {})
        return result

    def search_faces(self, image: ImageSource, *, k: int = 5, threshold: float | None = None,
                     fmr: float | None = None, fusion: Fusion = "max") -> list[SearchResult]:
        """Identify every face in an image (largest first); an empty list when there is none."""
        faces = self.analyzer.analyze(image)
        if not faces:
            return []
        results = self.search_embeddings(np.stack([f.embedding for f in faces]), k=k, threshold=threshold, fmr=fmr,
                                         fusion=fusion)
        for face, result in zip(faces, results):
            face.embedding = None
            result.face = face
        return results

    # -- management ------------------------------------------------------------
    def get(self, identity_id: str) -> Identity:
        return self.backend.get(check_identity_id(identity_id))

    def list(self, offset: int = 0, limit: int | None = None) -> list[Identity]:
        return self.backend.list(_row_number(offset, "offset"), None if limit is None else _row_number(limit, "limit"))

    def __len__(self) -> int:
        return self.backend.counts()[0]

    def __contains__(self, identity_id: object) -> bool:
        return isinstance(identity_id, str) and bool(self.backend.existing([identity_id]))

    def update(self, identity_id: str, *, name: str | None = None, metadata: dict[str, Any] | None = None,
               merge: bool = False) -> Identity:
        """Change the display name and/or metadata (replaced, or merged key by key with ``merge=True``)."""
        check_identity_id(identity_id)
        if metadata is not None and merge:
            metadata = {**self.backend.get(identity_id).metadata, **metadata}
        return self.backend.update(identity_id, name, None if metadata is None else dump_metadata(metadata))

    def remove(self, identity_ids: str | Sequence[str]) -> Removal:
        """Erase identities: their templates are deleted from the database (zeroed on disk) and
        from the index file. Unknown ids raise and remove nothing. Returns how many identities and
        templates were erased."""
        ids = list(dict.fromkeys([identity_ids] if isinstance(identity_ids, str) else identity_ids))
        templates = self.backend.remove([check_identity_id(i) for i in ids])
        return Removal(len(ids), templates)

    def remove_template(self, template_id: int) -> None:
        """Erase one template (an identity keeps at least one)."""
        self.backend.remove_template(_row_number(template_id, "template id"))

    # -- files and maintenance ---------------------------------------------------
    def export(self, path: str | os.PathLike[str], *, progress: bool = False) -> int:
        """Write every identity with its templates to a portable file (see ``portable``); returns the
        number of identities written. Templates with a damaged stored vector are skipped and reported
        by a :class:`DamagedTemplateWarning` (count and template ids)."""
        from facetrust.gallery.portable import write_export

        total = len(self)
        damaged: list[int] = []
        items = _progress(self.backend.iter_export(damaged), total, "exporting", progress)
        written = write_export(path, self.model, items, total, cipher=self.cipher)
        if damaged:
            shown = ", ".join(map(str, damaged[:10])) + (" …" if len(damaged) > 10 else "")
            warnings.warn(DamagedTemplateWarning(
                f"{len(damaged)} template(s) with a damaged vector were not exported (ids {shown}); "
                f"{written} of {total} identities exported"), stacklevel=2)
        return written

    def import_file(self, path: str | os.PathLike[str], *, on_duplicate: OnDuplicate = "error",
                    batch_size: int = 1000, progress: bool = False, encryption_key: Any = None) -> int:
        """Enrol the identities of an export file made with the same model; returns how many were new.
        An encrypted export needs its key: ``encryption_key`` (a key, a key file), else this gallery's
        own when it is the same, else ``$FACETRUST_ENCRYPTION_KEY`` / ``$FACETRUST_ENCRYPTION_KEY_FILE``."""
        from facetrust.gallery.portable import iter_records, read_header
        from facetrust.privacy.encryption import open_cipher
        from facetrust.privacy.gallery import check_import

        header = read_header(path)
        check_import(self.model, header["model"], path)
        self._check_model(header["model"], f"the identities in {path}")
        spec = header.get("encryption")
        if spec and encryption_key is None and self.cipher is not None and \
                self.cipher.fingerprint == spec.get("key_fingerprint"):
            cipher = self.cipher
        else:
            cipher = open_cipher(spec, encryption_key, f"export {path}")
        records = iter_records(path, cipher)
        self._store_as_is = self.model.protection is not None  # exported templates are protected already
        try:
            return self.enroll_many(records, batch_size=batch_size, on_duplicate=on_duplicate,
                                    progress=progress, total=int(header.get("identities") or 0) or None)
        finally:
            self._store_as_is = False

    @property
    def cipher(self) -> "TemplateCipher | None":
        """The encryption at rest of the stored templates (None: stored in clear)."""
        return getattr(self.backend, "cipher", None)

    def rotate_key(self, new_key: Any, *, progress: Progress = None) -> int:
        """Re-encrypt every template and the index file under ``new_key`` (a key, a key file), atomically
        (:meth:`SQLiteGallery.rotate_encryption <facetrust.gallery.sqlite.SQLiteGallery.rotate_encryption>`,
        :meth:`PostgresGallery.rotate_encryption <facetrust.gallery.postgres.PostgresGallery.rotate_encryption>`);
        returns the number of templates. ``progress``: True (a bar on stderr) or ``progress(done, total)``."""
        from facetrust.privacy.encryption import load_encryption_key

        rotate = getattr(self.backend, "rotate_encryption", None)
        if rotate is None or self.cipher is None:
            raise ConfigError(f"{self.backend.location} is not encrypted: there is no key to rotate")
        key = load_encryption_key(new_key)
        if progress is True:
            from rich.console import Console
            from rich.progress import Progress as Bar

            with Bar(console=Console(stderr=True)) as bar:
                task = bar.add_task("re-encrypting", total=None)
                return int(rotate(key, lambda done, total: bar.update(task, completed=done, total=total)))
        return int(rotate(key, progress if callable(progress) else None))

    def stats(self) -> dict[str, Any]:
        return self.backend.stats()

    def check(self) -> IntegrityReport:
        return self.backend.check()

    def reindex(self) -> None:
        """Rebuild the search index from the stored templates."""
        self.backend.reindex()

    def flush(self) -> None:
        """Persist the search index (done on close, and after every removal)."""
        self.backend.flush()


def _check_encryptable(backend: str) -> None:
    if backend not in ("sqlite", "postgres"):
        raise ConfigError(f"encryption at rest is for the sqlite and postgres backends, not {backend!r}")


def _check_policy(policy: Any) -> QualityPolicy:
    if policy not in ("reject", "warn", "off"):
        raise ConfigError(f"quality policy must be 'reject', 'warn' or 'off', got {policy!r}")
    return policy  # type: ignore[no-any-return]


def _split_templates(items: Any) -> list[tuple[Any, NewTemplate | None]]:
    """(raw vector, the NewTemplate it came from) per template of one identity."""
    if isinstance(items, NewTemplate):
        return [(items.vector, items)]
    if isinstance(items, np.ndarray):
        return [(items, None)] if items.ndim <= 1 else [(row, None) for row in items]
    if isinstance(items, (list, tuple)):
        if items and not isinstance(items[0], (NewTemplate, list, tuple, np.ndarray)):
            return [(items, None)]  # a flat list of numbers: one embedding
        return [(t.vector, t) if isinstance(t, NewTemplate) else (t, None) for t in items]
    return [(items, None)]


def _is_single_image(images: Any) -> bool:
    """A path, bytes, an array or a PIL image, as opposed to a sequence of them."""
    return isinstance(images, (str, os.PathLike, bytes, np.ndarray)) or type(images).__module__.startswith("PIL.")


def _progress(items: Iterable[Any], total: int | None, description: str, enabled: bool) -> Iterator[Any]:
    if not enabled:
        yield from items
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True)) as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)


#: Database integers are signed 64-bit: a larger id, offset or limit cannot name a row.
MAX_ROW_NUMBER = 2**63 - 1


def _row_number(value: Any, what: str) -> int:
    """A non-negative integer a database can hold (template id, offset, limit), else GalleryError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= MAX_ROW_NUMBER:
        raise GalleryError(f"{what} must be an integer from 0 to {MAX_ROW_NUMBER}, got {value!r}")
    return int(value)
