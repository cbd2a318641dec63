"""The ``ivfpq`` index: a coarse search whose candidates are re-ranked in memory.

Three FAISS parts, keyed by template id:

* ``span``: a projection onto the span of the embeddings, learnt from the training sample
  (the eigenvectors of its second moment, *not* centred, so inner products are kept; the
  dimensions that hold no more than :data:`SPAN_LOSS` of the energy are dropped: EdgeFace-XS's
  512-d embeddings lie in a 192-d subspace, so its codes need not spend bits on the other 320);
* ``coarse``: inverted lists of 4-bit PQ fast-scan codes over the projected vectors
  (``IVF{nlist},PQ{m}x4fs``); a query scans ``nprobe`` lists and keeps the best ``candidates``;
* ``fine``: an 8-bit scalar-quantised copy of every projected vector (``IDMap,SQ8``), held in
  memory, that re-ranks those candidates: their codes are dotted with the query directly
  (FAISS's own ``IndexRefine`` cannot remove entries, and decoding by id is slower).

The gallery then re-scores the best few exactly from the database, as for every kind.
"""
from __future__ import annotations

import struct
from typing import Any

import numpy as np

from facetrust.errors import ConfigError

#: Share of the training sample's energy (its second moment's trace) the dropped dimensions may hold.
SPAN_LOSS = 1e-6
#: Rows of the training sample the span is learnt from (its second moment in float64).
SPAN_SAMPLE = 50_000


def span_transform(sample: np.ndarray, multiple: int) -> Any:
    """A ``faiss.PCAMatrix`` onto the span of ``sample`` without centring, its output size rounded up
    to a ``multiple`` (at most the input dimension)."""
    import faiss

    dim = sample.shape[1]
    rows = sample[:SPAN_SAMPLE].astype(np.float64)
    values, vectors = np.linalg.eigh(rows.T @ rows / len(rows))
    order = np.argsort(values)[::-1]
    energy = np.cumsum(np.clip(values[order], 0, None))
    kept = int(np.searchsorted(energy / energy[-1], 1.0 - SPAN_LOSS)) + 1
    kept = min(dim, -(-kept // multiple) * multiple)
    transform = faiss.PCAMatrix(dim, kept)
    faiss.copy_array_to_vector(np.ascontiguousarray(vectors[:, order[:kept]].T, dtype=np.float32).ravel(), transform.A)
    faiss.copy_array_to_vector(np.zeros(kept, dtype=np.float32), transform.b)
    faiss.copy_array_to_vector(np.zeros(dim, dtype=np.float32), transform.mean)
    faiss.copy_array_to_vector(values[order].astype(np.float32), transform.eigenvalues)
    transform.is_trained = True
    return transform


class RefinedIndex:
    """``coarse`` (an ``IndexPreTransform``: span, then IVF-PQ fast-scan) proposes candidates,
    ``fine`` (``IDMap`` over 8-bit codes of the projected vectors) re-ranks them."""

    def __init__(self, coarse: Any, fine: Any, candidates: int = 256) -> None:
        import faiss

        self.coarse = coarse
        self.fine = fine
        self.candidates = candidates
        self.span = faiss.downcast_VectorTransform(coarse.chain.at(0))
        self.lists = faiss.downcast_index(coarse.index)
        self.codes = faiss.downcast_index(fine.index)
        # An 8-bit code c of dimension j stands for vmin_j + (c + 0.5) / 255 * vdiff_j (QT_8bit).
        trained = faiss.vector_to_array(self.codes.sq.trained).reshape(2, -1)
        self._vmin, self._step = trained[0], trained[1] / 255.0
        self._row_of: np.ndarray | None = None  # template id -> row of the 8-bit codes (-1: none)

    @classmethod
    def train(cls, sample: np.ndarray, nlist: int, pq_dims: int, pq_m: int | None) -> "RefinedIndex":
        import faiss

        span = span_transform(sample, 8)
        dim = span.d_out
        m = pq_m or dim // pq_dims
        if dim % m:  # a sub-quantiser count set by hand: keep enough dimensions for it
            if sample.shape[1] % m:
                raise ConfigError(f"index setting pq_m must divide the embedding dimension {sample.shape[1]}, got {m}")
            span = span_transform(sample, m)
            dim = span.d_out
        projected = span.apply(np.ascontiguousarray(sample, dtype=np.float32))
        lists = faiss.index_factory(dim, f"IVF{nlist},PQ{m}x4fs", faiss.METRIC_INNER_PRODUCT)
        lists.train(projected)
        fine = faiss.IndexIDMap(faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_8bit,
                                                           faiss.METRIC_INNER_PRODUCT))
        fine.train(projected)
        return cls(faiss.IndexPreTransform(span, lists), fine)

    # -- what TemplateIndex uses of a FAISS index -----------------------------
    @property
    def d(self) -> int:
        return int(self.coarse.d)

    @property
    def ntotal(self) -> int:
        return int(self.lists.ntotal)

    def add_with_ids(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        projected = self.span.apply(vectors)
        self.lists.add_with_ids(projected, ids)
        self.fine.add_with_ids(projected, ids)
        self._row_of = None

    def remove_ids(self, ids: np.ndarray) -> int:
        import faiss

        lists = self.lists.invlists
        before = np.array([lists.list_size(no) for no in range(self.lists.nlist)])
        removed = int(self.lists.remove_ids(ids))
        self.fine.remove_ids(ids)
        self._row_of = None
        # FAISS moves a list's last code into the freed slot; the slots past the end of the list's
        # last 32-code block keep their old bytes (the removed code's, when it was last): zeroed.
        packer = self.lists.get_CodePacker()
        blank = np.zeros(packer.code_size, dtype=np.uint8)
        for list_no in range(self.lists.nlist):
            size = lists.list_size(list_no)
            if size == before[list_no] or not size % packer.nvec:
                continue
            used = -(-size // packer.nvec)
            blocks = faiss.rev_swig_ptr(lists.get_codes(list_no), used * packer.block_size).reshape(used, -1)
            for slot in range(size, used * packer.nvec):
                packer.pack_1(blank, slot, blocks)
        return removed

    def _fine_scores(self, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """The 8-bit codes' inner products with ``query`` (projected) for templates ``ids``."""
        import faiss

        size = self.codes.code_size
        codes = faiss.rev_swig_ptr(self.codes.codes.data(), self.codes.ntotal * size).reshape(-1, size)
        if self._row_of is None:
            # A dense id -> row table: one memory read per candidate, where a binary search over a
            # million ids misses the cache about 20 times per candidate (0.09-0.26 ms per query).
            id_map = faiss.rev_swig_ptr(self.fine.id_map.data(), self.fine.id_map.size())
            # 4 bytes per id up to the largest: 4 MB for a million templates.
            self._row_of = np.full(int(id_map.max(initial=-1)) + 1, -1, dtype=np.int32)
            self._row_of[id_map] = np.arange(len(id_map), dtype=np.int32)
        rows = self._row_of[ids]
        return codes[rows] @ (query * self._step) + float(query @ (self._vmin + 0.5 * self._step))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        projected = self.span.apply(queries)
        _, found = self.lists.search(projected, max(k, self.candidates))
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        for row, (query, candidates) in enumerate(zip(projected, found)):
            candidates = candidates[candidates >= 0]
            if not len(candidates):
                continue
            estimate = self._fine_scores(query, candidates)
            best = np.argsort(-estimate, kind="stable")[:k]
            scores[row, :len(best)], ids[row, :len(best)] = estimate[best], candidates[best]
        return scores, ids

    # -- persistence -----------------------------------------------------------
    def serialize(self) -> np.ndarray:
        import faiss

        coarse, fine = faiss.serialize_index(self.coarse), faiss.serialize_index(self.fine)
        return np.concatenate([np.frombuffer(struct.pack("<Q", coarse.size), dtype=np.uint8), coarse, fine])

    @classmethod
    def deserialize(cls, payload: np.ndarray) -> "RefinedIndex":
        import faiss

        size = struct.unpack("<Q", payload[:8].tobytes())[0] if payload.size >= 8 else -1
        if not 0 <= size <= payload.size - 8:
            raise RuntimeError("the refined index's first part is cut short")
        coarse = faiss.deserialize_index(np.ascontiguousarray(payload[8:8 + size]))
        fine = faiss.deserialize_index(np.ascontiguousarray(payload[8 + size:]))
        if not isinstance(coarse, faiss.IndexPreTransform) or fine.d != faiss.downcast_index(coarse.index).d:
            raise RuntimeError("not a refined index")
        return cls(coarse, fine)
