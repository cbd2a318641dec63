"""Data types of the gallery and the protocol every storage backend implements.

A gallery stores *identities* (an id, a display name, JSON metadata) with one
or more *templates* each (an L2-normalised embedding plus an optional quality
score). Backends store and search; the :class:`~facetrust.gallery.Gallery`
API validates input, turns images into embeddings and fuses template scores.
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterator, Literal, NamedTuple, Protocol, Sequence

import numpy as np

from facetrust.errors import ConfigError, CorruptDataError, GalleryError, StorageError, StorageFullError
from facetrust.registry import Option
from facetrust.types import Face

OnDuplicate = Literal["error", "skip"]
#: What enrolment from images does with a face below the quality threshold (docs/gallery.md).
QualityPolicy = Literal["reject", "warn", "off"]
#: How an identity's templates become its score: best template, or one quality-weighted mean template.
Fusion = Literal["max", "quality-mean"]
#: Stored in every gallery; bump when the storage layout changes incompatibly.
FORMAT = "facetrust-gallery"
FORMAT_VERSION = 1
#: Written by encrypted galleries, so that a facetrust from before encryption refuses them
#: instead of taking ciphertexts for damaged vectors (or storing plain ones next to them).
ENCRYPTED_FORMAT_VERSION = 2
_CONTROL = re.compile(r"[\x00-\x1f]")


class GalleryIndexWarning(UserWarning):
    """The search index was unusable (corrupt, from another model) and was rebuilt from the database."""


class ErasureWarning(UserWarning):
    """A removal committed, but a copy of the removed data could not yet be wiped (see the message)."""


class DamagedTemplateWarning(UserWarning):
    """Stored templates with a damaged vector (wrong size, not finite) were left out (see the message)."""


class LowQualityWarning(UserWarning):
    """An image was enrolled although its face is below the quality threshold (policy ``warn``)."""


@dataclass(frozen=True)
class ModelIdentity:
    """The recognizer a gallery is tied to: embeddings of any other model are refused."""

    name: str
    sha256: str
    dim: int
    #: Template protection (facetrust.privacy): the protector's spec, key fingerprint included;
    #: ``dim`` is then the protected templates' dimension.
    protection: dict[str, Any] | None = field(default=None, hash=False)

    def to_dict(self) -> dict[str, Any]:
        plain = {"name": self.name, "sha256": self.sha256, "dim": self.dim}
        return plain if self.protection is None else {**plain, "protection": self.protection}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelIdentity":
        try:
            return cls(str(data["name"]), str(data["sha256"]), int(data["dim"]), data.get("protection"))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise GalleryError(f"bad model identity {data!r}: {exc}") from None

    @property
    def input_dim(self) -> int:
        """Dimension of the recognizer's embeddings (before any protection)."""
        return int(self.protection["dim"]) if self.protection else self.dim

    def __str__(self) -> str:
        protected = "" if self.protection is None else (
            f", protected: {self.protection.get('scheme')} key {self.protection.get('key_fingerprint')}")
        return f"{self.name} (sha256 {self.sha256[:12]}…, {self.dim}-d{protected})"


def model_identity(recognizer: str) -> ModelIdentity:
    """Identity of a registered recognizer from the zoo manifest, without loading the model.

    The sha256 is that of the model file (of all files, hashed together, when there are several);
    the zoo verifies every file against it before use.
    """
    import hashlib

    from facetrust.recognition import RECOGNIZERS, recognizer_files

    dim = int(getattr(RECOGNIZERS.get_class(recognizer), "dim"))
    files = recognizer_files(recognizer)
    if not files:
        raise ConfigError(f"recognizer {recognizer!r} has no model file to identify it by")
    if len(files) == 1:
        digest = files[0].sha256
    else:
        digest = hashlib.sha256("\n".join(sorted(f.sha256 for f in files)).encode()).hexdigest()
    return ModelIdentity(recognizer, digest, dim)


#: Index kinds of the embedded backend (facetrust.gallery.index_kinds); ``auto`` picks by size.
INDEX_KINDS = ("auto", "flat", "pq", "hnsw", "ivf", "ivfpq")


@dataclass(frozen=True)
class IndexConfig:
    """How the embedded backend indexes templates (docs/gallery.md, "Exact or approximate").

    ``kind``: ``"flat"`` (exact inner product), ``"pq"`` (a scan of every template's 4-bit
    product-quantised code), ``"hnsw"`` (a navigable small-world graph over the float vectors),
    ``"ivf"`` (inverted lists with 8-bit scalar-quantised codes), ``"ivfpq"`` (inverted lists of
    4-bit PQ codes over the embeddings' span, re-ranked by 8-bit codes in memory) or
    ``"auto"``: flat below ``approximate_above`` templates, the approximate kind chosen by the
    benchmark's curve from there on. Candidates of every kind are re-scored exactly from the
    database (``rescore`` per query for the approximate scores of pq, ivf and ivfpq). ``pq_m``:
    sub-quantisers (bytes per template = pq_m / 2); ``nlist`` / ``nprobe``: IVF lists and lists
    visited per query; ``refine``: ivfpq candidates re-ranked in memory per query; ``m`` /
    ``ef_construction`` / ``ef_search``: HNSW links per node, candidate list while building and
    while searching (``None`` = chosen by size, see docs/gallery.md).
    """

    kind: Literal["auto", "flat", "pq", "hnsw", "ivf", "ivfpq"] = "auto"
    approximate_above: int = 50_000
    nlist: int | None = None
    nprobe: int | None = None
    m: int | None = None
    ef_construction: int | None = None
    ef_search: int | None = None
    pq_m: int | None = None
    rescore: int | None = None
    refine: int | None = None

    #: Type and range of each setting (a bad one is a ConfigError before anything is built).
    OPTIONS: ClassVar[dict[str, Option]] = {
        "approximate_above": Option(int, 1), "nlist": Option(int, 1, 1 << 20, optional=True),
        "nprobe": Option(int, 1, 1 << 20, optional=True), "m": Option(int, 4, 128, optional=True),
        "ef_construction": Option(int, 8, 4096, optional=True), "ef_search": Option(int, 1, 1 << 15, optional=True),
        "pq_m": Option(int, 2, 256, optional=True), "rescore": Option(int, 1, 4096, optional=True),
        "refine": Option(int, 1, 65536, optional=True),
    }

    def __post_init__(self) -> None:
        if self.kind not in INDEX_KINDS:
            raise ConfigError(f"index kind must be one of {', '.join(map(repr, INDEX_KINDS))}, got {self.kind!r}")
        for name, spec in self.OPTIONS.items():
            value = getattr(self, name)
            if not spec.accepts(value):
                raise ConfigError(f"index setting {name} must be {spec.describe()}, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **{name: getattr(self, name) for name in self.OPTIONS}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "IndexConfig":
        return cls(**{k: data[k] for k in ("kind", *cls.OPTIONS) if k in data})


@dataclass(frozen=True)
class NewTemplate:
    """A validated, L2-normalised embedding to store, with its record: quality score and method,
    source image, the detector and face box it came from (None where unknown, e.g. embeddings)."""

    vector: np.ndarray
    quality: float | None = None
    source: str | None = None
    quality_method: str | None = None
    detector: str | None = None
    box: tuple[float, float, float, float] | None = None

    def face_json(self) -> str | None:
        """How a backend stores the record fields beyond quality and source."""
        record = {"quality_method": self.quality_method, "detector": self.detector,
                  "box": None if self.box is None else [float(v) for v in self.box]}
        return json.dumps(record) if any(v is not None for v in record.values()) else None


@dataclass(frozen=True)
class EnrollRecord:
    """One identity to enrol in bulk. ``templates`` may hold :class:`NewTemplate` objects or
    raw vectors (one per row of an array); the gallery validates and normalises them."""

    identity_id: str
    templates: Sequence[Any]
    name: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Template:
    """A stored template's record (its vector is fetched separately)."""

    id: int
    quality: float | None
    source: str | None
    created_at: float
    quality_method: str | None = None
    detector: str | None = None
    box: tuple[float, float, float, float] | None = None

    @classmethod
    def from_row(cls, tid: int, quality: float | None, source: str | None, created_at: float, face: Any) -> "Template":
        """``face``: the stored JSON of :meth:`NewTemplate.face_json` (text or already parsed), or None."""
        record = (json.loads(face) if isinstance(face, str) else face) or {}
        box = record.get("box")
        return cls(int(tid), quality, source, created_at, record.get("quality_method"), record.get("detector"),
                   tuple(box) if box is not None else None)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "quality": self.quality, "quality_method": self.quality_method, "source": self.source,
                "detector": self.detector, "box": None if self.box is None else list(self.box),
                "created_at": iso_time(self.created_at)}


def iso_time(epoch: float) -> str:
    """ISO-8601 UTC with milliseconds, e.g. ``2026-12-03T14:02:19.123Z``."""
    from datetime import datetime, timezone

    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Identity:
    id: str
    name: str | None
    metadata: dict[str, Any]
    created_at: float
    updated_at: float
    templates: tuple[Template, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "metadata": self.metadata, "created_at": iso_time(self.created_at),
                "updated_at": iso_time(self.updated_at), "templates": [t.to_dict() for t in self.templates]}


class Removal(NamedTuple):
    """What :meth:`Gallery.remove <facetrust.gallery.Gallery.remove>` erased."""

    identities: int
    templates: int


@dataclass(frozen=True)
class Candidate:
    """A template a backend found for a query, with its exact cosine similarity."""

    template_id: int
    identity_id: str
    name: str | None
    score: float


@dataclass(frozen=True)
class Match:
    """An identity in a search result; ``score`` is its best template's similarity (fusion ``max``)
    or its quality-weighted mean template's (fusion ``quality-mean``)."""

    identity_id: str
    name: str | None
    score: float
    template_id: int

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.identity_id, "name": self.name, "score": round(self.score, 6),
                "template_id": self.template_id}


@dataclass
class SearchResult:
    """Top-k identities for one query face and the open-set decision.

    ``identity`` is the best match's id when its score reaches ``threshold``, else ``None``
    ("not enrolled").
    """

    matches: list[Match]
    threshold: float
    face: Face | None = None

    @property
    def identity(self) -> str | None:
        if self.matches and self.matches[0].score >= self.threshold:
            return self.matches[0].identity_id
        return None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"identity": self.identity, "threshold": round(self.threshold, 6),
                               "matches": [m.to_dict() for m in self.matches]}
        if self.face is not None:
            out["face"] = self.face.to_dict(include_embedding=False)
        return out


@dataclass
class IntegrityReport:
    identities: int
    templates: int
    index_entries: int | None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "identities": self.identities, "templates": self.templates,
                "index_entries": self.index_entries, "problems": self.problems}


def fuse(candidates: Sequence[Candidate], k: int) -> list[Match]:
    """Fusion rule: an identity scores its best template's similarity (max); top ``k`` identities.
    ``candidates`` must be sorted by descending score."""
    seen: dict[str, Match] = {}
    for c in candidates:
        if c.identity_id not in seen:
            seen[c.identity_id] = Match(c.identity_id, c.name, c.score, c.template_id)
            if len(seen) == k:
                break
    return list(seen.values())


def fuse_by_quality(queries: np.ndarray, candidates: Sequence[Sequence[Candidate]],
                    templates: dict[str, tuple[list[float | None], np.ndarray]], k: int) -> list[list[Match]]:
    """Fusion rule ``quality-mean``: each candidate identity scores the cosine of the query with
    its quality-weighted mean template (:func:`facetrust.quality.fuse_embeddings`); top ``k``.

    ``templates`` maps identity ids to (qualities, vectors) of all their templates. A template
    without a stored quality weighs as much as the mean of the identity's known ones (equal
    weights when none is known), so unassessed templates neither dominate nor vanish.
    ``Match.template_id`` stays the identity's best-matching candidate template.
    """
    from facetrust.quality import fuse_embeddings

    fused: dict[str, np.ndarray] = {}
    for identity_id, (qualities, vectors) in templates.items():
        known = [q for q in qualities if q is not None]
        fill = float(np.mean(known)) if known else 1.0
        fused[identity_id] = fuse_embeddings(vectors, [fill if q is None else q for q in qualities])
    out = []
    for query, found in zip(queries, candidates):
        best: dict[str, Candidate] = {}
        for c in found:  # sorted best first: the first candidate of an identity is its best template
            if c.identity_id in fused:  # an identity removed between the search and the fetch is gone
                best.setdefault(c.identity_id, c)
        scored = sorted(((float(fused[i] @ query), c) for i, c in best.items()), key=lambda sc: -sc[0])
        out.append([Match(c.identity_id, c.name, score, c.template_id) for score, c in scored[:k]])
    return out


def distinct_identities(candidates: Sequence[Candidate]) -> int:
    return len({c.identity_id for c in candidates})


def check_identity_id(identity_id: Any) -> str:
    if not isinstance(identity_id, str) or not identity_id.strip() or len(identity_id) > 256:
        raise GalleryError(f"identity id must be a non-empty string of at most 256 characters, got {identity_id!r}")
    if _CONTROL.search(identity_id):
        raise GalleryError(f"identity id {identity_id!r} contains control characters")
    return identity_id


def storage_error(what: object, exc: BaseException, folder: str | os.PathLike[str] | None = None) -> StorageError:
    """The typed error for an SQLite or OS failure on ``what`` (a file, a gallery). SQLite reports
    a full disk met while opening its log files as a plain I/O error: with ``folder`` given, such
    an error on a filesystem without free space is reported as full."""
    import errno
    import shutil

    code = getattr(exc, "sqlite_errorcode", None)
    text = str(exc).strip() or type(exc).__name__
    full = (code is not None and code & 0xFF == 13) or getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT)
    if not full and folder is not None and code is not None and code & 0xFF in (10, 14):  # IOERR, CANTOPEN
        try:
            full = shutil.disk_usage(folder).free < 1 << 20
        except OSError:
            pass
    if full:
        return StorageFullError(f"{what}: the disk is full ({text})")
    if code is not None and code & 0xFF in (11, 26):  # SQLITE_CORRUPT, SQLITE_NOTADB
        return CorruptDataError(f"{what} is damaged ({text}); restore it from a backup or an export")
    return StorageError(f"{what}: {text}")


def damaged_vector(blob: Any, dim: int) -> bool:
    """A stored vector that is not ``dim`` finite little-endian float32 values."""
    if not isinstance(blob, (bytes, memoryview)) or len(blob) != 4 * dim:
        return True
    return not bool(np.isfinite(np.frombuffer(blob, dtype="<f4")).all())


def dump_metadata(metadata: Any) -> str:
    if not isinstance(metadata, dict):
        raise GalleryError(f"metadata must be a JSON object (dict), got {type(metadata).__name__}")
    try:
        return json.dumps(metadata, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise GalleryError(f"metadata is not JSON-serialisable: {exc}") from None
    except RecursionError:
        raise GalleryError("metadata is nested too deeply to store") from None


def check_quality(quality: Any) -> float | None:
    if quality is None:
        return None
    value = float(quality)
    if not math.isfinite(value):
        raise GalleryError(f"template quality must be finite, got {quality!r}")
    return value


class GalleryBackend(Protocol):
    """Storage + vector search behind :class:`~facetrust.gallery.Gallery`.

    Implementations are constructed by their classmethods ``create(location, model, index,
    **options)`` and ``open(location, readonly=False, index=None, **options)``. Vectors handed
    to a backend are already validated: float32, shape (dim,), unit length.
    """

    location: str
    model: ModelIdentity
    readonly: bool

    def enroll(self, records: Sequence[tuple[str, str | None, str, Sequence[NewTemplate]]],
               on_duplicate: OnDuplicate = "error") -> list[str]:
        """Insert (id, name, metadata JSON, templates) records in one transaction; returns the ids
        inserted. ``on_duplicate="skip"`` leaves existing ids alone; ``"error"`` changes nothing."""
        ...

    def add_templates(self, identity_id: str, templates: Sequence[NewTemplate]) -> list[int]: ...

    def get(self, identity_id: str) -> Identity: ...

    def list(self, offset: int = 0, limit: int | None = None) -> list[Identity]: ...

    def existing(self, identity_ids: Sequence[str]) -> set[str]: ...

    def counts(self) -> tuple[int, int]:
        """(identities, templates)."""
        ...

    def update(self, identity_id: str, name: str | None, metadata_json: str | None) -> Identity: ...

    def remove(self, identity_ids: Sequence[str]) -> int:
        """Delete identities and their templates so that they cannot be recovered from storage;
        returns the number of templates deleted with them."""
        ...

    def remove_template(self, template_id: int) -> None: ...

    def templates_of(self, identity_ids: Sequence[str]) -> dict[str, tuple[list[float | None], np.ndarray]]:
        """(qualities, (n, dim) vectors) of every template of each given identity that exists."""
        ...

    def search(self, vectors: np.ndarray, k: int) -> list[list[Candidate]]:
        """Per query, candidates sorted by exact score, covering at least ``k`` distinct
        identities when the gallery holds that many."""
        ...

    def iter_export(self, damaged: list[int] | None = None) -> Iterator[tuple[Identity, np.ndarray]]:
        """Every identity with its templates' vectors (rows in ``Identity.templates`` order).
        Templates whose stored vector is damaged are left out, their ids appended to ``damaged``."""
        ...

    def stats(self) -> dict[str, Any]: ...

    def check(self) -> IntegrityReport: ...

    def reindex(self) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...
