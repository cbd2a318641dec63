"""The portable export format: JSON lines, gzip-compressed when the name ends in ``.gz``.

Line 1 is a header ``{"format": "facetrust-gallery-export", "version": 1, "model": {...},
"identities": N, "exported_at": ...}``; every further line is one identity
``{"id", "name", "metadata", "templates": [{"vector", "quality", "source", "quality_method", "detector",
"box"}]}`` (the last three are absent in older exports; null when unknown) where
``vector`` is the base64 of the little-endian float32 embedding (exact, no rounding).
An export holds biometric templates: store and delete it like the gallery itself.
"""
from __future__ import annotations

import base64
import gzip
import json
import os
import time
import zlib
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator

import numpy as np

from facetrust.errors import CorruptDataError, GalleryError
from facetrust.gallery.base import EnrollRecord, Identity, ModelIdentity, NewTemplate, storage_error

EXPORT_FORMAT = "facetrust-gallery-export"
EXPORT_VERSION = 1


def _open(path: Path, mode: str, compressed: bool | None = None) -> IO[str]:
    if path.name.endswith(".gz") if compressed is None else compressed:
        return gzip.open(path, mode + "t", encoding="utf-8")  # type: ignore[return-value]
    return open(path, mode, encoding="utf-8")


def write_export(path: str | os.PathLike[str], model: ModelIdentity, items: Iterable[tuple[Identity, np.ndarray]],
                 total: int, advance: Callable[[], None] | None = None) -> int:
    """Write atomically (temporary file, fsync, rename); returns the number of identities."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")  # same folder: the rename is atomic
    written = 0
    try:
        with _open(tmp, "w", compressed=target.name.endswith(".gz")) as out:
            header = {"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "model": model.to_dict(),
                      "identities": total, "exported_at": time.time()}
            out.write(json.dumps(header) + "\n")
            for identity, vectors in items:
                templates = [{"vector": base64.b64encode(np.ascontiguousarray(v, dtype="<f4").tobytes()).decode(),
                              "quality": t.quality, "source": t.source, "quality_method": t.quality_method,
                              "detector": t.detector, "box": None if t.box is None else list(t.box)}
                             for t, v in zip(identity.templates, vectors)]
                out.write(json.dumps({"id": identity.id, "name": identity.name, "metadata": identity.metadata,
                                      "templates": templates}) + "\n")
                written += 1
                if advance is not None:
                    advance()
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        raise storage_error(f"cannot write {target}", exc) from None
    finally:
        tmp.unlink(missing_ok=True)
    return written


def read_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The header of an export file, with ``model`` as a :class:`ModelIdentity`."""
    source = Path(path)
    try:
        with _open(source, "r") as fh:
            header = json.loads(fh.readline())
    except FileNotFoundError:
        raise GalleryError(f"no export file at {source}") from None
    except (OSError, UnicodeDecodeError, ValueError, EOFError) as exc:
        raise GalleryError(f"{source} is not a gallery export ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
        raise GalleryError(f"{source} is not a gallery export")
    if int(header.get("version", 0)) > EXPORT_VERSION:
        raise GalleryError(f"{source} was written by a newer facetrust (export version {header['version']})")
    header["model"] = ModelIdentity.from_dict(header.get("model") or {})
    return header


def iter_records(path: str | os.PathLike[str]) -> Iterator[EnrollRecord]:
    """Identities of an export file, in file order; vectors are validated by the gallery on enrolment."""
    source = Path(path)
    dim = read_header(source)["model"].dim
    number = 1
    try:
        with _open(source, "r") as fh:
            fh.readline()
            for number, line in enumerate(fh, start=2):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    templates = [NewTemplate(_decode(t["vector"], dim), t.get("quality"), t.get("source"),
                                             t.get("quality_method"), t.get("detector"),
                                             None if t.get("box") is None else tuple(map(float, t["box"])))
                                 for t in row["templates"]]
                    yield EnrollRecord(row["id"], templates, row.get("name"), row.get("metadata") or {})
                except (ValueError, KeyError, TypeError) as exc:
                    raise CorruptDataError(f"{source}, line {number}: bad record ({exc})") from None
    except (EOFError, OSError, zlib.error, UnicodeDecodeError) as exc:
        # A truncated or damaged .gz: the identities before this point were read intact.
        raise CorruptDataError(f"{source} is truncated or damaged after line {number} ({exc or type(exc).__name__})"
                               ) from None


def _decode(text: str, dim: int) -> np.ndarray:
    raw = base64.b64decode(text, validate=True)
    if len(raw) != 4 * dim:
        raise ValueError(f"vector has {len(raw) // 4} values, expected {dim}")
    return np.frombuffer(raw, dtype="<f4").astype(np.float32)
