"""The FAISS search index of the embedded backend, persisted next to the database.

The index maps template ids to vectors. It is a cache of the database: the
file carries the database *generation* it reflects and the highest template id
it holds, so a stale file is brought up to date from the database (new
templates by id, removals from the removal log) and an unreadable one is
rebuilt. The file is the FAISS serialisation followed by a JSON footer with a
CRC-32 of the payload, written to a temporary file and renamed, so readers see
either the old or the new file, never half of one.
"""
from __future__ import annotations

import json
import math
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from facetrust.gallery.base import IndexConfig

_MAGIC = b"FTGIDX01"
#: FAISS warns below ~39 training points per list; we keep at least this many.
_MIN_POINTS_PER_LIST = 39
#: Training sample per list for IVF k-means (more costs time, barely changes recall).
_TRAIN_POINTS_PER_LIST = 40
#: Batches at least this large are searched with FAISS's OpenMP threads.
_PARALLEL_QUERIES = 8


class IndexFileError(Exception):
    """The index file is missing its footer, fails its checksum or cannot be deserialised."""


def auto_nlist(n: int) -> int:
    """About 4·√n inverted lists (a power of two), with enough points per list to train."""
    target = 2 ** round(math.log2(max(1.0, 4.0 * math.sqrt(max(n, 1)))))
    return int(max(1, min(target, 65536, n // _MIN_POINTS_PER_LIST)))


def auto_nprobe(nlist: int) -> int:
    """Lists visited per query: 6·√nlist (192 of 1,024, 384 of 4,096), at least 32.

    Finer partitions need a smaller share of lists for the same recall. Measured with
    bench/bench_gallery.py on face-like vectors, recall@1 against exact search: 0.994 at 60k
    with 192 of 1,024 lists, 0.991 at 200k with 256 of 2,048, 0.996 at 1M with 384 of 4,096
    (0.990 with another k-means training).
    """
    return int(min(nlist, max(32, round(6 * math.sqrt(nlist)))))


def planned_kind(n: int, config: IndexConfig, current: str | None = None) -> str:
    """Index kind for ``n`` templates. In auto mode an IVF index stays IVF until the gallery
    shrinks below half the switch size, so a gallery near the boundary does not flip back and forth."""
    if config.kind == "flat":
        return "flat"
    if config.kind == "auto":
        switch = config.approximate_above // 2 if current == "ivf" else config.approximate_above
        if n < switch:
            return "flat"
    return "ivf" if n >= _MIN_POINTS_PER_LIST else "flat"


@dataclass
class IndexStamp:
    """What the index reflects: the database generation and the highest template id it holds."""

    generation: int
    max_template_id: int
    trained_for: int = 0


class TemplateIndex:
    """A FAISS inner-product index keyed by template id: exact (``flat``) or IVF-SQ8 (``ivf``)."""

    def __init__(self, index: Any, kind: str, stamp: IndexStamp, nprobe: int | None = None) -> None:
        self.index = index
        self.kind = kind
        self.stamp = stamp
        self.nprobe = nprobe

    # -- construction ------------------------------------------------------
    @classmethod
    def empty(cls, dim: int, kind: str, stamp: IndexStamp, config: IndexConfig,
              training: np.ndarray | None = None) -> "TemplateIndex":
        """A new empty index; an IVF index is trained on ``training`` (a sample of the vectors)."""
        import faiss

        if kind == "flat":
            return cls(faiss.index_factory(dim, "IDMap,Flat", faiss.METRIC_INNER_PRODUCT), "flat", stamp)
        assert training is not None and len(training) >= _MIN_POINTS_PER_LIST
        nlist = min(config.nlist or auto_nlist(stamp.trained_for), len(training) // _MIN_POINTS_PER_LIST)
        index = faiss.index_factory(dim, f"IVF{max(1, nlist)},SQ8", faiss.METRIC_INNER_PRODUCT)
        index.train(np.ascontiguousarray(training, dtype=np.float32))
        return cls(index, "ivf", stamp)

    @staticmethod
    def training_size(n: int, config: IndexConfig) -> int:
        nlist = config.nlist or auto_nlist(n)
        return min(n, max(nlist * _TRAIN_POINTS_PER_LIST, 10_000))

    # -- contents ----------------------------------------------------------
    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    @property
    def nlist(self) -> int:
        import faiss

        return int(faiss.extract_index_ivf(self.index).nlist) if self.kind == "ivf" else 0

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> int:
        if not len(ids):
            return 0
        return int(self.index.remove_ids(np.asarray(ids, dtype=np.int64)))

    def ids(self) -> np.ndarray:
        """Every template id in the index (for integrity checks)."""
        import faiss

        if self.kind == "flat":
            return faiss.vector_to_array(self.index.id_map).astype(np.int64)
        ivf = faiss.extract_index_ivf(self.index)
        lists = ivf.invlists
        parts = []
        for list_no in range(ivf.nlist):
            size = lists.list_size(list_no)
            if size:
                parts.append(faiss.rev_swig_ptr(lists.get_ids(list_no), size).copy())
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, template ids), ids -1 where fewer than ``k`` were found."""
        import faiss

        if self.kind == "ivf":
            ivf = faiss.extract_index_ivf(self.index)
            ivf.nprobe = min(ivf.nlist, self.nprobe or auto_nprobe(ivf.nlist))
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
        import faiss

        return int(faiss.serialize_index(self.index).size)

    # -- persistence -------------------------------------------------------
    def save(self, path: Path, gallery_uuid: str, seal: Callable[[bytes], bytes] | None = None) -> None:
        """Write atomically: temporary file, fsync, rename, fsync of the folder. ``seal`` encrypts
        the serialised index in memory (an encrypted gallery): the file never holds it in clear."""
        import faiss

        payload = faiss.serialize_index(self.index)
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
        import faiss

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
        try:
            index = faiss.deserialize_index(payload)
        except RuntimeError as exc:
            raise IndexFileError(f"FAISS cannot read the index: {exc}") from None
        if footer.get("gallery") != gallery_uuid:
            raise IndexFileError("the index file belongs to another gallery")
        if index.d != dim or footer.get("kind") not in ("flat", "ivf"):
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
