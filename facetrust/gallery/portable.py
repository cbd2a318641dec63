"""The portable export format: JSON lines, gzip-compressed when the name ends in ``.gz``.

Line 1 is a header ``{"format": "facetrust-gallery-export", "version": 1, "model": {...},
"identities": N, "exported_at": ...}``; every further line is one identity
``{"id", "name", "metadata", "templates": [{"vector", "quality", "source", "quality_method", "detector",
"box"}]}`` (the last three are absent in older exports; null when unknown) where
``vector`` is the base64 of the little-endian float32 embedding (exact, no rounding).
An export holds biometric templates: store and delete it like the gallery itself.

An encrypted gallery writes encrypted exports: the header carries ``"encryption": {"cipher":
"AES-256-GCM", "key_fingerprint", "export_id"}`` and each ``vector`` is the base64 of
``nonce || ciphertext || tag`` bound to the export, the identity and the template's place
(:func:`facetrust.privacy.encryption.export_data`); reading it needs the key.
"""
from __future__ import annotations

import base64
import gzip
import json
import os
import time
import uuid
import zlib
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator

import numpy as np

from facetrust.errors import ConfigError, CorruptDataError, GalleryError
from facetrust.gallery.base import EnrollRecord, Identity, ModelIdentity, NewTemplate, storage_error
from facetrust.privacy.encryption import TemplateCipher, export_data

EXPORT_FORMAT = "facetrust-gallery-export"
EXPORT_VERSION = 1


def _open(path: Path, mode: str, compressed: bool | None = None) -> IO[str]:
    if path.name.endswith(".gz") if compressed is None else compressed:
        return gzip.open(path, mode + "t", encoding="utf-8")  # type: ignore[return-value]
    return open(path, mode, encoding="utf-8")


def write_export(path: str | os.PathLike[str], model: ModelIdentity, items: Iterable[tuple[Identity, np.ndarray]],
                 total: int, advance: Callable[[], None] | None = None, cipher: TemplateCipher | None = None) -> int:
    """Write atomically (temporary file, fsync, rename); returns the number of identities.
    With ``cipher`` the vectors are encrypted (the file never holds them in clear)."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")  # same folder: the rename is atomic
    written = 0
    try:
        with _open(tmp, "w", compressed=target.name.endswith(".gz")) as out:
            header = {"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "model": model.to_dict(),
                      "identities": total, "exported_at": time.time()}
            export_id = uuid.uuid4().hex
            if cipher is not None:
                header["encryption"] = {**cipher.spec(), "export_id": export_id}
            out.write(json.dumps(header) + "\n")
            for identity, vectors in items:
                blobs = [np.ascontiguousarray(v, dtype="<f4").tobytes() for v in vectors]
                if cipher is not None:
                    blobs = [cipher.seal(b, export_data(export_id, identity.id, j)) for j, b in enumerate(blobs)]
                templates = [{"vector": base64.b64encode(blob).decode(),
                              "quality": t.quality, "source": t.source, "quality_method": t.quality_method,
                              "detector": t.detector, "box": None if t.box is None else list(t.box)}
                             for t, blob in zip(identity.templates, blobs)]
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


def iter_records(path: str | os.PathLike[str], cipher: TemplateCipher | None = None) -> Iterator[EnrollRecord]:
    """Identities of an export file, in file order; vectors are validated by the gallery on enrolment.
    An encrypted export needs ``cipher`` (see :func:`facetrust.privacy.encryption.open_cipher`)."""
    source = Path(path)
    header = read_header(source)
    dim = header["model"].dim
    spec = header.get("encryption")
    if (spec is None) != (cipher is None):
        raise ConfigError(f"{source} is encrypted: reading it needs its key" if spec else
                          f"{source} is not encrypted: it takes no key")
    number = 1
    try:
        with _open(source, "r") as fh:
            fh.readline()
            for number, line in enumerate(fh, start=2):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    raws = [base64.b64decode(t["vector"], validate=True) for t in row["templates"]]
                    if cipher is not None:
                        raws = [cipher.open(raw, export_data(spec["export_id"], row["id"], j),
                                            f"{source}, line {number}, template {j + 1}") for j, raw in enumerate(raws)]
                    templates = [NewTemplate(_decode(raw, dim), t.get("quality"), t.get("source"),
                                             t.get("quality_method"), t.get("detector"),
                                             None if t.get("box") is None else tuple(map(float, t["box"])))
                                 for t, raw in zip(row["templates"], raws)]
                    yield EnrollRecord(row["id"], templates, row.get("name"), row.get("metadata") or {})
                except (ValueError, KeyError, TypeError) as exc:
                    raise CorruptDataError(f"{source}, line {number}: bad record ({exc})") from None
    except (EOFError, OSError, zlib.error, UnicodeDecodeError) as exc:
        # A truncated or damaged .gz: the identities before this point were read intact.
        raise CorruptDataError(f"{source} is truncated or damaged after line {number} ({exc or type(exc).__name__})"
                               ) from None


def _decode(raw: bytes, dim: int) -> np.ndarray:
    if len(raw) != 4 * dim:
        raise ValueError(f"vector has {len(raw) // 4} values, expected {dim}")
    return np.frombuffer(raw, dtype="<f4").astype(np.float32)
