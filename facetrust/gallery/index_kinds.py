"""Index kinds of the embedded backend: how a FAISS index holds, searches and forgets templates.

Each kind implements :class:`IndexKind` and is listed in :data:`KINDS` under the name that
``IndexConfig(kind=...)`` takes. Every kind maps template ids to vectors, and a removal must
take the vector's bytes out of the index, not just hide them (erasure, docs/gallery.md).

* ``flat``: every vector, exact inner product (``IDMap,Flat``).
* ``pq``: every template as a 4-bit product-quantised code (``IDMap,PQ{pq_m}x4fs``, FAISS
  fast-scan: ``pq_m / 2`` bytes per template, dim/4 sub-quantisers by default), all scanned per
  query; the best ``rescore`` candidates are re-scored exactly. Removal deletes the code and zeroes the freed slots of the last block.
* ``ivf``: inverted lists with 8-bit scalar-quantised codes (``IVF{nlist},SQ8``); a query
  visits ``nprobe`` lists.
* ``ivfpq``: the vectors projected onto their span, 4-bit PQ fast-scan codes in inverted lists
  (``IVF{nlist},PQ{pq_m}x4fs``); a query scans ``nprobe`` lists, its best ``refine`` candidates are
  re-ranked by 8-bit codes held in memory, and the best ``rescore`` re-scored exactly
  (:mod:`facetrust.gallery.refined_index`). Removal deletes both codes and zeroes the freed
  slots of each list's last block.
* ``hnsw``: a navigable small-world graph over the float vectors (``IDMap,HNSW{m}``). FAISS
  cannot remove from it, so a removal *empties the node in place*: its vector is overwritten
  with zeros, its id with -1, its links and every link to it are cut (pointed back at their
  own node). The node then holds nothing of the template and is never reached; the graph is
  rebuilt once such empty nodes exceed :data:`HNSW_EMPTY_SHARE` of it.
"""
from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np

from facetrust.errors import ConfigError
from facetrust.gallery.base import IndexConfig

#: FAISS warns below ~39 training points per list; we keep at least this many.
MIN_POINTS_PER_LIST = 39
#: Training sample per list for IVF k-means (more costs time, barely changes recall).
TRAIN_POINTS_PER_LIST = 40
#: HNSW defaults (docs/gallery.md: chosen from the curve bench/bench_gallery.py measured at 1M).
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 40
HNSW_EF_SEARCH = 64
#: PQ: dimensions per sub-quantiser by default (128 sub-quantisers, 64 bytes, for 512-d: 32 bytes
#: lose the true top-1 beyond the 256th candidate for 2% of mated queries at 1M); training sample.
PQ_DIMS_PER_SUBQUANTIZER = 4
PQ_TRAINING = 50_000
#: PQ candidates re-scored exactly per query: with 128 sub-quantisers at 1M, recall@1 of mated
#: queries against exact search through the gallery is 0.982 / 0.992 with 16 / 64 (raw FAISS:
#: 0.990 / 0.997 / 1.000 with 16 / 64 / 256; docs/gallery.md); each costs a read from SQLite.
PQ_RESCORE = 64
#: ivfpq: dimensions (of the span) per sub-quantiser, inverted lists per √n, share of the lists
#: scanned, candidates re-ranked in memory and re-scored from the database (docs/gallery.md, the
#: curves of bench/gallery_ivf_curve.py and bench_gallery.py: scanning a quarter of the lists kept
#: 0.93-0.98 of the mated top-1s, half of them 0.98-0.99, three quarters 1.000 at 1M through the
#: gallery; 1024 re-ranked instead of 256 gained 0.002 at 100k for 2x the time).
IVFPQ_DIMS_PER_SUBQUANTIZER = 2
IVFPQ_LISTS_PER_ROOT = 1
IVFPQ_PROBE_SHARE = 0.75
IVFPQ_REFINE = 256
IVFPQ_RESCORE = 8
#: ivfpq training sample: at least this many vectors (PQ and 8-bit ranges), and this many per list
#: (FAISS's k-means samples at most 256 per list).
IVFPQ_TRAINING = 50_000
IVFPQ_TRAIN_PER_LIST = 256
#: Share of emptied (removed) nodes above which the HNSW graph is rebuilt.
HNSW_EMPTY_SHARE = 0.1


def auto_nlist(n: int) -> int:
    """About 4·√n inverted lists (a power of two), with enough points per list to train."""
    target = 2 ** round(math.log2(max(1.0, 4.0 * math.sqrt(max(n, 1)))))
    return int(max(1, min(target, 65536, n // MIN_POINTS_PER_LIST)))


def auto_nprobe(nlist: int) -> int:
    """Lists visited per query: 6·√nlist (192 of 1,024, 384 of 4,096), at least 32.

    Finer partitions need a smaller share of lists for the same recall. Measured with
    bench/bench_gallery.py on face-like vectors, recall@1 against exact search: 0.994 at 60k
    with 192 of 1,024 lists, 0.991 at 200k with 256 of 2,048, 0.996 at 1M with 384 of 4,096
    (0.990 with another k-means training).
    """
    return int(min(nlist, max(32, round(6 * math.sqrt(nlist)))))


class IndexKind(Protocol):
    """What the backend needs of an index kind; ``index`` is the FAISS object it built."""

    name: str
    #: Scores from the index are exact, so ``k`` candidates suffice (else ``rescore`` are re-scored).
    exact: bool
    #: Default candidates re-scored exactly per query (at least) when not exact.
    rescore: int

    def build(self, dim: int, config: IndexConfig, trained_for: int, training: np.ndarray | None) -> Any:
        """A new empty index (trained on ``training`` if the kind needs it)."""
        ...

    def training_size(self, n: int, config: IndexConfig) -> int:
        """Vectors to sample for training (0: none needed)."""
        ...

    def prepare_search(self, index: Any, config: IndexConfig, want: int) -> None:
        """Set the search-time parameters for ``want`` results per query."""
        ...

    def remove(self, index: Any, ids: np.ndarray) -> int:
        """Take the templates out of the index, bytes included; the number removed."""
        ...

    def ids(self, index: Any) -> np.ndarray:
        """Every template id the index holds."""
        ...

    def stale(self, index: Any, count: int, config: IndexConfig, trained_for: int) -> bool:
        """The index should be rebuilt for ``count`` templates under ``config``."""
        ...

    def describe(self, index: Any, config: IndexConfig) -> dict[str, Any]:
        """The settings in use, for ``stats()``."""
        ...


def _idmap_ids(index: Any) -> np.ndarray:
    import faiss

    ids = faiss.vector_to_array(index.id_map).astype(np.int64)
    return ids[ids >= 0]


class FlatKind:
    name = "flat"
    exact = True
    rescore = 0

    def build(self, dim: int, config: IndexConfig, trained_for: int, training: np.ndarray | None) -> Any:
        import faiss

        return faiss.index_factory(dim, "IDMap,Flat", faiss.METRIC_INNER_PRODUCT)

    def training_size(self, n: int, config: IndexConfig) -> int:
        return 0

    def prepare_search(self, index: Any, config: IndexConfig, want: int) -> None:
        pass

    def remove(self, index: Any, ids: np.ndarray) -> int:
        return int(index.remove_ids(ids))

    def ids(self, index: Any) -> np.ndarray:
        return _idmap_ids(index)

    def stale(self, index: Any, count: int, config: IndexConfig, trained_for: int) -> bool:
        return False

    def describe(self, index: Any, config: IndexConfig) -> dict[str, Any]:
        return {}


class PqKind:
    name = "pq"
    exact = False
    rescore = PQ_RESCORE

    @staticmethod
    def subquantizers(dim: int, config: IndexConfig) -> int:
        m = config.pq_m or max(1, dim // PQ_DIMS_PER_SUBQUANTIZER)
        if dim % m:
            raise ConfigError(f"index setting pq_m must divide the embedding dimension {dim}, got {m}")
        return m

    def build(self, dim: int, config: IndexConfig, trained_for: int, training: np.ndarray | None) -> Any:
        import faiss

        index = faiss.index_factory(dim, f"IDMap,PQ{self.subquantizers(dim, config)}x4fs", faiss.METRIC_INNER_PRODUCT)
        if training is not None and len(training):
            index.train(np.ascontiguousarray(training, dtype=np.float32))
        return index

    def training_size(self, n: int, config: IndexConfig) -> int:
        return min(n, PQ_TRAINING)

    def prepare_search(self, index: Any, config: IndexConfig, want: int) -> None:
        pass

    def remove(self, index: Any, ids: np.ndarray) -> int:
        import faiss

        removed = int(index.remove_ids(ids))
        # FAISS moves the later codes down; the slots past the end of the last 32-code block keep
        # their old bytes (the removed code's, when it was last) and are written to the file.
        codes = faiss.downcast_index(index.index)
        packer = codes.get_CodePacker()
        blocks = faiss.rev_swig_ptr(codes.codes.get(), codes.codes.size()).reshape(-1, packer.block_size)
        blank = np.zeros(packer.code_size, dtype=np.uint8)
        for slot in range(codes.ntotal, codes.ntotal2):
            packer.pack_1(blank, slot, blocks)
        return removed

    def ids(self, index: Any) -> np.ndarray:
        return _idmap_ids(index)

    def stale(self, index: Any, count: int, config: IndexConfig, trained_for: int) -> bool:
        import faiss

        return faiss.downcast_index(index.index).M != self.subquantizers(index.d, config)

    def describe(self, index: Any, config: IndexConfig) -> dict[str, Any]:
        import faiss

        return {"pq_m": faiss.downcast_index(index.index).M, "rescore": config.rescore or self.rescore}


class IvfKind:
    name = "ivf"
    exact = False
    rescore = 16

    def build(self, dim: int, config: IndexConfig, trained_for: int, training: np.ndarray | None) -> Any:
        import faiss

        assert training is not None and len(training) >= MIN_POINTS_PER_LIST
        nlist = min(config.nlist or auto_nlist(trained_for), len(training) // MIN_POINTS_PER_LIST)
        index = faiss.index_factory(dim, f"IVF{max(1, nlist)},SQ8", faiss.METRIC_INNER_PRODUCT)
        index.train(np.ascontiguousarray(training, dtype=np.float32))
        return index

    def training_size(self, n: int, config: IndexConfig) -> int:
        nlist = config.nlist or auto_nlist(n)
        return min(n, max(nlist * TRAIN_POINTS_PER_LIST, 10_000))

    @staticmethod
    def nlist(index: Any) -> int:
        import faiss

        return int(faiss.extract_index_ivf(index).nlist)

    def prepare_search(self, index: Any, config: IndexConfig, want: int) -> None:
        import faiss

        ivf = faiss.extract_index_ivf(index)
        ivf.nprobe = min(ivf.nlist, config.nprobe or auto_nprobe(ivf.nlist))

    def remove(self, index: Any, ids: np.ndarray) -> int:
        return int(index.remove_ids(ids))

    def ids(self, index: Any) -> np.ndarray:
        import faiss

        ivf = faiss.extract_index_ivf(index)
        lists = ivf.invlists
        parts = []
        for list_no in range(ivf.nlist):
            size = lists.list_size(list_no)
            if size:
                parts.append(faiss.rev_swig_ptr(lists.get_ids(list_no), size).copy())
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)

    def stale(self, index: Any, count: int, config: IndexConfig, trained_for: int) -> bool:
        if config.nlist is not None:
            return self.nlist(index) != min(config.nlist, max(1, trained_for // MIN_POINTS_PER_LIST))
        # Lists were sized for trained_for vectors; retrain once the gallery grew or shrank 4x.
        return not trained_for / 4 <= count <= trained_for * 4

    def describe(self, index: Any, config: IndexConfig) -> dict[str, Any]:
        nlist = self.nlist(index)
        return {"nlist": nlist, "nprobe": min(nlist, config.nprobe or auto_nprobe(nlist)),
                "rescore": config.rescore or self.rescore}


def ivfpq_nlist(n: int) -> int:
    """About √n inverted lists (a power of two), with enough points per list to train."""
    target = 2 ** round(math.log2(max(1.0, IVFPQ_LISTS_PER_ROOT * math.sqrt(max(n, 1)))))
    return int(max(1, min(target, n // MIN_POINTS_PER_LIST)))


def ivfpq_nprobe(nlist: int) -> int:
    return int(max(1, min(nlist, round(IVFPQ_PROBE_SHARE * nlist))))


class IvfPqKind:
    name = "ivfpq"
    exact = False
    rescore = IVFPQ_RESCORE

    def build(self, dim: int, config: IndexConfig, trained_for: int, training: np.ndarray | None) -> Any:
        from facetrust.gallery.refined_index import RefinedIndex

        assert training is not None
        nlist = config.nlist or ivfpq_nlist(trained_for)
        if nlist * MIN_POINTS_PER_LIST > len(training):
            raise ConfigError(f"index setting nlist={nlist} needs at least {nlist * MIN_POINTS_PER_LIST:,} templates "
                              f"({MIN_POINTS_PER_LIST} per list) to train, the gallery has {len(training):,}")
        return RefinedIndex.train(np.ascontiguousarray(training, dtype=np.float32), nlist,
                                  IVFPQ_DIMS_PER_SUBQUANTIZER, config.pq_m)

    def training_size(self, n: int, config: IndexConfig) -> int:
        nlist = config.nlist or ivfpq_nlist(n)
        return min(n, max(nlist * IVFPQ_TRAIN_PER_LIST, IVFPQ_TRAINING))

    def prepare_search(self, index: Any, config: IndexConfig, want: int) -> None:
        index.lists.nprobe = min(index.lists.nlist, config.nprobe or ivfpq_nprobe(index.lists.nlist))
        index.candidates = max(want, config.refine or IVFPQ_REFINE)

    def remove(self, index: Any, ids: np.ndarray) -> int:
        return index.remove_ids(ids)

    def ids(self, index: Any) -> np.ndarray:
        return IvfKind().ids(index.lists)

    def stale(self, index: Any, count: int, config: IndexConfig, trained_for: int) -> bool:
        if config.pq_m is not None and index.lists.pq.M != config.pq_m:
            return True
        if config.nlist is not None:
            return index.lists.nlist != config.nlist
        return not trained_for / 4 <= count <= trained_for * 4  # lists sized for another gallery size

    def describe(self, index: Any, config: IndexConfig) -> dict[str, Any]:
        nlist = int(index.lists.nlist)
        return {"nlist": nlist, "nprobe": min(nlist, config.nprobe or ivfpq_nprobe(nlist)),
                "span_dims": int(index.span.d_out), "pq_m": int(index.lists.pq.M),
                "refine": config.refine or IVFPQ_REFINE, "rescore": config.rescore or self.rescore}


class HnswKind:
    name = "hnsw"
    exact = True  # the graph holds the float vectors: its scores are exact
    rescore = 0

    def build(self, dim: int, config: IndexConfig, trained_for: int, training: np.ndarray | None) -> Any:
        import faiss

        index = faiss.index_factory(dim, f"IDMap,HNSW{config.m or HNSW_M}", faiss.METRIC_INNER_PRODUCT)
        faiss.downcast_index(index.index).hnsw.efConstruction = config.ef_construction or HNSW_EF_CONSTRUCTION
        return index

    def training_size(self, n: int, config: IndexConfig) -> int:
        return 0

    def prepare_search(self, index: Any, config: IndexConfig, want: int) -> None:
        import faiss

        faiss.downcast_index(index.index).hnsw.efSearch = max(want, config.ef_search or HNSW_EF_SEARCH)

    def remove(self, index: Any, ids: np.ndarray) -> int:
        import faiss

        id_map = faiss.rev_swig_ptr(index.id_map.data(), index.id_map.size())  # views: written in place
        rows = np.flatnonzero(np.isin(id_map, ids))
        if not len(rows):
            return 0
        graph = faiss.downcast_index(index.index)
        hnsw = graph.hnsw
        vectors = faiss.rev_swig_ptr(faiss.downcast_index(graph.storage).get_xb(), graph.ntotal * graph.d)
        vectors.reshape(graph.ntotal, graph.d)[rows] = 0.0
        id_map[rows] = -1
        links = faiss.rev_swig_ptr(hnsw.neighbors.data(), hnsw.neighbors.size())
        offsets = faiss.vector_to_array(hnsw.offsets).astype(np.int64)
        owner_of = lambda positions: np.searchsorted(offsets, positions, side="right") - 1  # noqa: E731
        # Links to an emptied node would still say which templates it was close to: each now
        # points back at its own node (a loop search skips); the emptied node's own links go.
        incoming = np.flatnonzero(np.isin(links, rows))
        links[incoming] = owner_of(incoming)
        for row in rows:
            links[offsets[row]:offsets[row + 1]] = -1
        if hnsw.entry_point in set(rows.tolist()):
            levels = faiss.vector_to_array(hnsw.levels)
            live = np.flatnonzero(id_map >= 0)
            if len(live):  # the live node of the highest level enters the graph instead
                entry = int(live[np.argmax(levels[live])])
                hnsw.entry_point, hnsw.max_level = entry, int(levels[entry]) - 1
        return len(rows)

    def ids(self, index: Any) -> np.ndarray:
        return _idmap_ids(index)

    @staticmethod
    def emptied(index: Any) -> int:
        import faiss

        return int((faiss.vector_to_array(index.id_map) < 0).sum())

    def stale(self, index: Any, count: int, config: IndexConfig, trained_for: int) -> bool:
        import faiss

        built_m = faiss.downcast_index(index.index).hnsw.nb_neighbors(1)
        return built_m != (config.m or HNSW_M) or self.emptied(index) > HNSW_EMPTY_SHARE * max(1, index.ntotal)

    def describe(self, index: Any, config: IndexConfig) -> dict[str, Any]:
        import faiss

        hnsw = faiss.downcast_index(index.index).hnsw
        return {"m": hnsw.nb_neighbors(1), "ef_construction": hnsw.efConstruction,
                "ef_search": config.ef_search or HNSW_EF_SEARCH, "emptied_nodes": self.emptied(index)}


def check_config(dim: int, config: IndexConfig) -> None:
    """ConfigError for settings that do not fit the embedding dimension (before any file is made)."""
    if config.pq_m is not None:
        PqKind.subquantizers(dim, config)


KINDS: dict[str, IndexKind] = {kind.name: kind for kind in (FlatKind(), PqKind(), HnswKind(), IvfKind(), IvfPqKind())}
