"""The FAISS search index of the embedded backend, persisted next to the database.

The index maps template ids to vectors; its kinds (exact, PQ, IVF, IVF-PQ, HNSW) are in
:mod:`facetrust.gallery.index_kinds`. It is a cache of the database: the
file carries the database *generation* it reflects and the highest template id
it holds, so a stale file is brought up to date from the database (new
templates by id, removals from the removal log) and an unreadable one is
rebuilt. The file is the FAISS serialisation followed by a JSON footer with a
CRC-32 of the payload, written to a temporary file and renamed, so readers see
either the old or the new file, never half of one.
"""
from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from facetrust.gallery.base import IndexConfig
from facetrust.gallery.index_kinds import KINDS, MIN_POINTS_PER_LIST, IndexKind
from facetrust.gallery.refined_index import RefinedIndex

_MAGIC = b"FTGIDX01"
#: Batches at least this large are searched with FAISS's OpenMP threads.
_PARALLEL_QUERIES = 8
#: The approximate kind ``auto`` switches to above ``approximate_above`` (docs/gallery.md: the
#: winner of the curves bench/bench_gallery.py measured at 100k and 1M, each kind interleaved).
AUTO_APPROXIMATE = "ivfpq"


class IndexFileError(Exception):
    """The index file is missing its footer, fails its checksum or cannot be deserialised."""


def planned_kind(n: int, config: IndexConfig, current: str | None = None) -> str:
    """Index kind for ``n`` templates. In auto mode an approximate index stays approximate until
    the gallery shrinks below half the switch size, so a gallery near the boundary does not flip
    back and forth."""
    if config.kind == "flat":
        return "flat"
    kind = AUTO_APPROXIMATE if config.kind == "auto" else config.kind
    if config.kind == "auto":
        switch = config.approximate_above // 2 if current == kind else config.approximate_above
        if n < switch:
            return "flat"
    if kind in ("ivf", "ivfpq") and n < MIN_POINTS_PER_LIST:
        return "flat"  # too few vectors to train a single list
    return kind


def serialize(index: Any) -> np.ndarray:
    """The bytes of an index: FAISS's serialisation, or the ivfpq kind's own (two FAISS indexes)."""
    import faiss

    return index.serialize() if isinstance(index, RefinedIndex) else faiss.serialize_index(index)


def deserialize(kind: str, payload: np.ndarray) -> Any:
    import faiss

    return RefinedIndex.deserialize(payload) if kind == "ivfpq" else faiss.deserialize_index(payload)


@dataclass
class IndexStamp:
    """What the index reflects: the database generation and the highest template id it holds."""

    generation: int
    max_template_id: int
    trained_for: int = 0


class TemplateIndex:
    """A FAISS inner-product index keyed by template id, of one of :data:`KINDS`."""

    def __init__(self, index: Any, kind: str, stamp: IndexStamp, config: IndexConfig | None = None) -> None:
        self.index = index
        self.kind = kind
        self.stamp = stamp
        self.config = config or IndexConfig()

    @property
    def behaviour(self) -> IndexKind:
        return KINDS[self.kind]

    # -- construction ------------------------------------------------------
    @classmethod
    def empty(cls, dim: int, kind: str, stamp: IndexStamp, config: IndexConfig,
              training: np.ndarray | None = None) -> "TemplateIndex":
        """A new empty index; a kind that needs training is trained on ``training`` (a sample)."""
        return cls(KINDS[kind].build(dim, config, stamp.trained_for, training), kind, stamp, config)

    @staticmethod
    def training_size(n: int, kind: str, config: IndexConfig) -> int:
        return KINDS[kind].training_size(n, config)

    # -- contents ----------------------------------------------------------
    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    @property
    def exact(self) -> bool:
        return self.behaviour.exact

    @property
    def rescore(self) -> int:
        """Candidates re-scored exactly per query (at least) when the index's scores are approximate."""
        return self.config.rescore or self.behaviour.rescore

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> int:
        if not len(ids):
            return 0
        return self.behaviour.remove(self.index, np.asarray(ids, dtype=np.int64))

    def ids(self) -> np.ndarray:
        """Every template id in the index (for integrity checks)."""
        return self.behaviour.ids(self.index)

    def stale(self, count: int) -> bool:
        """The index should be rebuilt for ``count`` templates (see :meth:`IndexKind.stale`)."""
        return self.behaviour.stale(self.index, count, self.config, self.stamp.trained_for)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "entries": len(self.ids()), **self.behaviour.describe(self.index, self.config)}

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, template ids), ids -1 where fewer than ``k`` were found."""
        import faiss

        self.behaviour.prepare_search(self.index, self.config, k)
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if len(queries) >= _PARALLEL_QUERIES:
            return self.index.search(queries, k)
        # A few queries gain nothing from OpenMP threads, and on a busy machine their
        # hand-offs cost more than the search (14 ms instead of 1 ms measured at 10k, load 12).
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            return self.index.search(queries, k)
        finally:
            faiss.omp_set_num_threads(threads)

    def memory_bytes(self) -> int:
        """Size of the serialised index: the vectors or codes, ids and (IVF) centroids."""
        return int(serialize(self.index).size)

    # -- persistence -------------------------------------------------------
    def save(self, path: Path, gallery_uuid: str, seal: Callable[[bytes], bytes] | None = None) -> None:
        """Write atomically: temporary file, fsync, rename, fsync of the folder. ``seal`` encrypts
        the serialised index in memory (an encrypted gallery): the file never holds it in clear."""
        payload = serialize(self.index)
        if seal is not None:
            payload = np.frombuffer(seal(payload.tobytes()), dtype=np.uint8)
        footer = json.dumps({
            "gallery": gallery_uuid, "kind": self.kind, "generation": self.stamp.generation, "max_template_id": self.stamp.max_template_id,
            "trained_for": self.stamp.trained_for, "bytes": int(payload.size), "crc32": zlib.crc32(payload),
        }).encode()
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as out:
                out.write(memoryview(payload))
                out.write(footer)
                out.write(struct.pack("<I", len(footer)))
                out.write(_MAGIC)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        _fsync_dir(path.parent)

    @classmethod
    def load(cls, path: Path, dim: int, gallery_uuid: str,
             unseal: Callable[[bytes], bytes] | None = None) -> "TemplateIndex":
        """``unseal`` decrypts what ``save`` sealed (raising :class:`IndexFileError` when it fails)."""
        data = np.fromfile(path, dtype=np.uint8)
        if data.size < 12 or data[-8:].tobytes() != _MAGIC:
            raise IndexFileError("no index footer (truncated or not an index file)")
        (footer_len,) = struct.unpack("<I", data[-12:-8].tobytes())
        try:
            footer = json.loads(data[-12 - footer_len:-12].tobytes())
            size = int(footer["bytes"])
        except (ValueError, KeyError, TypeError) as exc:
            raise IndexFileError(f"unreadable index footer: {exc}") from None
        if size != data.size - 12 - footer_len:
            raise IndexFileError("index file has the wrong length")
        payload = data[:size]
        if zlib.crc32(payload) != footer.get("crc32"):
            raise IndexFileError("index file fails its CRC-32 check")
        if unseal is not None:
            payload = np.frombuffer(unseal(payload.tobytes()), dtype=np.uint8)
        if footer.get("kind") not in KINDS:
            raise IndexFileError(f"unknown index kind {footer.get('kind')!r}")
        try:
            index = deserialize(footer["kind"], payload)
        except RuntimeError as exc:
            raise IndexFileError(f"FAISS cannot read the index: {exc}") from None
        if footer.get("gallery") != gallery_uuid:
            raise IndexFileError("the index file belongs to another gallery")
        if index.d != dim:
            raise IndexFileError(f"index is {index.d}-d {footer.get('kind')}, the gallery is {dim}-d")
        stamp = IndexStamp(int(footer["generation"]), int(footer["max_template_id"]), int(footer["trained_for"]))
        return cls(index, footer["kind"], stamp)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
