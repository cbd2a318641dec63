"""What a batch job reads: image files from folders, globs, URIs or a manifest, and how a worker reads one.

An input is a local path (kept absolute, so workers on other hosts sharing the file system find
it) or a URI (``s3://``, ``gs://``, ``file://``, ``hdfs://`` …) read through :mod:`pyarrow.fs`.
A manifest is a CSV or Parquet file with one input per row in a path/URI column; its other
columns travel to the output rows (e.g. an identity label for ``gallery import-parquet``).
Local paths in a manifest are relative to the manifest's folder.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Sequence
from urllib.parse import quote, unquote, urlparse

import numpy as np

from facetrust.errors import ConfigError, ImageNotFoundError, ImageReadError
from facetrust.io.sources import IMAGE_SUFFIXES, expand_inputs

MANIFEST_SUFFIXES = frozenset({".csv", ".parquet", ".pq"})
#: Columns a manifest's inputs are taken from when none is named, in this order.
SOURCE_COLUMNS = ("path", "uri", "source", "file")


@dataclass(frozen=True)
class BatchInput:
    """One image to analyse: its ``source`` (absolute path or URI) and the manifest's other columns."""

    source: str
    columns: dict[str, str | None] = field(default_factory=dict)


def is_uri(text: str) -> bool:
    """``s3://bucket/key`` and ``file:///x`` are URIs; ``C:\\x`` and ``x.jpg`` are not."""
    scheme = urlparse(text).scheme
    return len(scheme) > 1 and "://" in text


def list_inputs(inputs: Sequence[str], column: str | None = None) -> list[BatchInput]:
    """Every image the inputs name, sorted by source and without duplicates (a deterministic order,
    whatever the order of the folders, globs or manifest rows). Folders (local or URI) are walked
    recursively and globs expanded, keeping image suffixes; ``.csv`` / ``.parquet`` files are
    manifests (``column``: the one holding paths or URIs; default the first of
    :data:`SOURCE_COLUMNS` present). :class:`ImageNotFoundError` when nothing is found."""
    found: dict[str, BatchInput] = {}
    plain: list[str] = []
    for item in inputs:
        if is_uri(item):
            for uri in _list_uri(item):
                found.setdefault(uri, BatchInput(uri))
        elif Path(item).suffix.lower() in MANIFEST_SUFFIXES and Path(item).is_file():
            for entry in read_manifest(Path(item), column):
                found.setdefault(entry.source, entry)
        else:
            plain.append(item)
    if plain:
        for path in expand_inputs(plain):
            source = os.path.abspath(path)
            found.setdefault(source, BatchInput(source))
    if not found:
        raise ImageNotFoundError(f"no images found in {', '.join(inputs)}")
    return [found[source] for source in sorted(found)]


def read_manifest(path: Path, column: str | None = None) -> list[BatchInput]:
    """The rows of a CSV or Parquet manifest as inputs; :class:`ConfigError` for a missing column."""
    import pyarrow as pa

    try:
        if path.suffix.lower() == ".csv":
            from pyarrow import csv

            # Every column as text: labels such as "007" must keep their zeros.
            with csv.open_csv(path) as reader:  # the header only: a streaming reader reads one block
                names = reader.schema.names
            table = csv.read_csv(path, convert_options=csv.ConvertOptions(
                column_types={name: pa.string() for name in names}))
        else:
            import pyarrow.parquet as pq

            table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise ConfigError(f"{path}: cannot read the manifest ({exc})") from None
    chosen = column or next((c for c in SOURCE_COLUMNS if c in table.column_names), None)
    if chosen is None or chosen not in table.column_names:
        wanted = repr(column) if column else f"one of {', '.join(SOURCE_COLUMNS)}"
        raise ConfigError(f"{path}: manifest has no column {wanted} (columns: {', '.join(table.column_names)})")
    others = [c for c in table.column_names if c != chosen]
    rows = table.select([chosen, *others]).to_pylist()
    entries = []
    for row in rows:
        value = row.pop(chosen)
        if value is None or not str(value).strip():
            continue
        value = str(value).strip()
        source = value if is_uri(value) else os.path.abspath(path.parent / value)
        entries.append(BatchInput(source, {k: None if v is None else str(v) for k, v in row.items()}))
    return entries


def _list_uri(uri: str) -> list[str]:
    """The URI itself when it names a file, else the image files under it (recursive)."""
    from pyarrow import fs

    filesystem, root = _filesystem(uri)
    try:
        info = filesystem.get_file_info(root)
        if info.type == fs.FileType.File:
            return [uri]
        if info.type == fs.FileType.NotFound:
            raise ImageNotFoundError(f"{uri}: no such file or directory")
        listing = filesystem.get_file_info(fs.FileSelector(root, recursive=True))
    except OSError as exc:
        raise ImageReadError(f"{uri}: cannot list ({exc})") from None
    parsed = urlparse(uri)
    # Bucket stores (s3, gs) list "bucket/key"; host-based and local ones list "/path".
    base = f"{parsed.scheme}://{parsed.netloc}" if root.startswith("/") else f"{parsed.scheme}://"
    return [base + quote(item.path) for item in listing
            if item.type == fs.FileType.File and PurePosixPath(item.path).suffix.lower() in IMAGE_SUFFIXES]


def _filesystem(uri: str) -> tuple[Any, str]:
    from pyarrow import fs

    try:
        return fs.FileSystem.from_uri(uri)
    except (OSError, ValueError) as exc:  # unknown scheme, a file system not built into this pyarrow
        raise ConfigError(f"{uri}: cannot open this URI with pyarrow's file systems ({exc})") from None


class SourceReader:
    """Reads one input as an RGB image for a worker: local paths through :func:`load_image`, URIs
    through pyarrow's file systems (one per scheme and host, kept open), each error a typed
    :class:`~facetrust.errors.ImageError` naming the source."""

    def __init__(self, max_pixels: int | None = None) -> None:
        self.max_pixels = max_pixels
        self._filesystems: dict[tuple[str, str], Any] = {}

    def __call__(self, source: str) -> np.ndarray:
        from facetrust.io.image import decode_image_bytes, load_image

        if not is_uri(source):
            return load_image(source, self.max_pixels)
        return decode_image_bytes(self.read_bytes(source), source, self.max_pixels)

    def read_bytes(self, uri: str) -> bytes:
        parsed = urlparse(uri)
        key = (parsed.scheme, parsed.netloc)
        if key not in self._filesystems:
            self._filesystems[key] = _filesystem(uri)[0]
        filesystem = self._filesystems[key]
        path = _filesystem_path(uri, filesystem)
        try:
            with filesystem.open_input_file(path) as handle:
                return handle.read()
        except FileNotFoundError:
            raise ImageNotFoundError(f"{uri}: no such file") from None
        except (OSError, IsADirectoryError) as exc:
            raise ImageReadError(f"{uri}: cannot read ({exc})") from None


def _filesystem_path(uri: str, filesystem: Any) -> str:
    """The path of ``uri`` inside its (cached) file system, as pyarrow's ``from_uri`` gives it."""
    from pyarrow import fs

    if isinstance(filesystem, fs.LocalFileSystem):
        return fs.FileSystem.from_uri(uri)[1]
    parsed = urlparse(uri)
    # Bucket stores (s3, gs) keep the bucket in the path; host-based ones (hdfs) do not. URIs
    # are percent-encoded, as pyarrow's from_uri takes them.
    path = parsed.path if isinstance(filesystem, fs.HadoopFileSystem) else parsed.netloc + parsed.path
    return unquote(path)
