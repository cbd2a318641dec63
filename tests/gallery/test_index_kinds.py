"""The embedded backend's index kinds (flat, PQ, HNSW, IVF, IVF-PQ) on real face embeddings: they find what
exact search finds, survive a close and reopen, forget removed templates byte for byte, and
refuse bad settings with a typed error."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from facetrust.errors import ConfigError, FacetrustError
from facetrust.gallery import EnrollRecord, Gallery, GalleryIndexWarning, IndexConfig
from facetrust.gallery.faiss_index import AUTO_APPROXIMATE
from facetrust.gallery.index_kinds import HNSW_EMPTY_SHARE

PEOPLE = 120  # people with 2+ photos: first photo enrolled, second photo is the query
STRANGERS = 120  # people with one photo: enrolled, never queried


@pytest.fixture(scope="module")
def faces(shared: Path) -> tuple[np.ndarray, np.ndarray]:
    """(gallery vectors, mated queries): YuNet + EdgeFace-XS embeddings of LFW photos; row i of
    the queries is another photo of the person of gallery row i."""
    from facetrust import FaceAnalyzer

    twice, once = [], []
    for person in sorted((shared / "data" / "lfw").iterdir()):
        photos = sorted(person.glob("*.jpg"))
        if len(photos) >= 2 and len(twice) < PEOPLE:
            twice.append(photos[:2])
        elif len(photos) == 1 and len(once) < STRANGERS:
            once.append(photos[0])
        if len(twice) == PEOPLE and len(once) == STRANGERS:
            break
    analyzer = FaceAnalyzer(detector="yunet", recognizer="edgeface-xs")
    embedded = analyzer.embed([p[0] for p in twice] + once + [p[1] for p in twice], select="center")
    assert embedded.found.all()
    vectors = embedded.vectors.astype(np.float32)
    return vectors[:PEOPLE + STRANGERS], vectors[PEOPLE + STRANGERS:]


def enrolled(path: Path, vectors: np.ndarray, config: IndexConfig) -> Gallery:
    gallery = Gallery.create(path, "edgeface-xs", index=config)
    gallery.enroll_many([EnrollRecord(f"p{i}", v) for i, v in enumerate(vectors)])
    gallery.flush()
    return gallery


def index_bytes(path: Path) -> bytes:
    return Path(f"{path}.index").read_bytes()


# PQ re-scores 16 of the 240 templates here (by default 256: all of them), so its ranking counts;
# IVF-PQ scans both of its 2 lists (its coarse search is tested at 20k below) and re-ranks 16.
@pytest.mark.parametrize("config", [IndexConfig(kind="pq", rescore=16), IndexConfig(kind="hnsw"),
                                    IndexConfig(kind="ivf"), IndexConfig(kind="ivfpq", nlist=2, nprobe=2, refine=16, rescore=2)],
                         ids=["pq", "hnsw", "ivf", "ivfpq"])
def test_approximate_kinds_find_the_exact_top1_and_score_exactly(tmp_path, faces, config):
    vectors, queries = faces
    exact = queries @ vectors.T
    with enrolled(tmp_path / "g.gallery", vectors, config) as gallery:
        assert gallery.stats()["index"]["kind"] == config.kind
        results = gallery.search_embeddings(queries, k=3)
    top1 = np.array([int(r.matches[0].identity_id[1:]) for r in results])
    # The target of docs/gallery.md (recall@1 >= 0.99 against exact search), here on 240 real faces.
    assert (top1 == exact.argmax(axis=1)).mean() >= 0.99
    assert_exact_scores(results, exact)


def test_hnsw_settings_are_used(tmp_path, faces):
    vectors, queries = faces
    config = IndexConfig(kind="hnsw", m=8, ef_construction=16, ef_search=8)
    with enrolled(tmp_path / "g.gallery", vectors, config) as gallery:
        index = gallery.stats()["index"]
        assert (index["m"], index["ef_construction"], index["ef_search"]) == (8, 16, 8)
        results = gallery.search_embeddings(queries, k=3)
    assert all(len(r.matches) == 3 for r in results)
    assert_exact_scores(results, queries @ vectors.T)


def assert_exact_scores(results: list, exact: np.ndarray) -> None:
    for row, result in enumerate(results):  # every score is the exact cosine, whatever the index ranked
        for match in result.matches:
            assert match.score == pytest.approx(exact[row, int(match.identity_id[1:])], abs=1e-5)


@pytest.mark.parametrize("kind", ["flat", "pq", "hnsw", "ivf", "ivfpq"])
def test_index_file_round_trip(tmp_path, faces, kind):
    vectors, queries = faces
    path = tmp_path / "g.gallery"
    with enrolled(path, vectors, IndexConfig(kind=kind)) as gallery:
        before = [r.to_dict() for r in gallery.search_embeddings(queries, k=5)]
        stats = gallery.stats()["index"]
    saved = index_bytes(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", GalleryIndexWarning)  # loaded as saved, not rebuilt
        with Gallery.open(path, readonly=True) as reopened:
            assert reopened.stats()["index"] == stats
            assert [r.to_dict() for r in reopened.search_embeddings(queries, k=5)] == before
            assert reopened.check().ok
    assert index_bytes(path) == saved


def test_hnsw_removal_takes_the_vector_and_its_links_out_of_the_graph(tmp_path, faces):
    import faiss

    vectors, queries = faces
    path = tmp_path / "g.gallery"
    with enrolled(path, vectors, IndexConfig(kind="hnsw")) as gallery:
        index = gallery.backend._index.index  # type: ignore[attr-defined]
        graph = faiss.downcast_index(index.index)
        id_map = faiss.vector_to_array(index.id_map)
        entry_id = int(id_map[graph.hnsw.entry_point])  # removing the entry point must not break search
        by_template = {i.templates[0].id: i.id for i in gallery.list()}
        victims = {"p3", "p4", by_template[entry_id]}
        rows = [int(v[1:]) for v in victims]
        secrets = [vectors[r].astype("<f4").tobytes() for r in rows]
        assert all(s in index_bytes(path) for s in secrets)  # visible before: the check can see them
        template_ids = {gallery.get(v).templates[0].id for v in victims}

        gallery.remove(sorted(victims))
        assert not [s for s in secrets if s in index_bytes(path)]
        index = gallery.backend._index.index  # type: ignore[attr-defined]
        graph = faiss.downcast_index(index.index)
        id_map = faiss.vector_to_array(index.id_map)
        emptied = np.flatnonzero(id_map < 0)
        assert len(emptied) == len(victims) and not template_ids & set(id_map.tolist())
        stored = faiss.rev_swig_ptr(faiss.downcast_index(graph.storage).get_xb(), graph.ntotal * graph.d)
        assert not stored.reshape(graph.ntotal, graph.d)[emptied].any()
        links = faiss.vector_to_array(graph.hnsw.neighbors)
        assert not np.isin(links, emptied).any()  # no node links to an emptied one any more
        assert graph.hnsw.entry_point not in set(emptied.tolist())
        assert gallery.check().ok
        results = gallery.search_embeddings(queries, k=5)
        assert not victims & {m.identity_id for r in results for m in r.matches}
        exact = queries @ vectors.T
        exact[:, rows] = -np.inf  # the exact top-1 among the templates left
        assert np.mean(np.array([int(r.matches[0].identity_id[1:]) for r in results]) == exact.argmax(axis=1)) >= 0.99
    assert not [s for s in secrets if s in index_bytes(path)]
    with Gallery.open(path) as reopened:
        assert reopened.check().ok and reopened.stats()["index"]["emptied_nodes"] == len(victims)


def packed_codes(gallery: Gallery) -> tuple[np.ndarray, np.ndarray, object]:
    """(the codes of the PQ index's live slots, of its padding slots, the FAISS PQ index)."""
    import faiss

    codes = faiss.downcast_index(gallery.backend._index.index.index)  # type: ignore[attr-defined]
    packer = codes.get_CodePacker()
    blocks = faiss.rev_swig_ptr(codes.codes.get(), codes.codes.size()).reshape(-1, packer.block_size)
    slots = np.stack([packer.unpack_1(blocks, i) for i in range(codes.ntotal2)]) if codes.ntotal2 else np.zeros((0, 1))
    return slots[:codes.ntotal], slots[codes.ntotal:], codes


def test_pq_rescores_the_configured_number_of_candidates(tmp_path, faces):
    vectors, queries = faces
    with enrolled(tmp_path / "g.gallery", vectors, IndexConfig(kind="pq", rescore=40)) as gallery:
        assert gallery.stats()["index"]["rescore"] == 40
        found = gallery.backend.search(queries[:3], k=1)  # candidates before fusion: all re-scored
    assert [len(c) for c in found] == [40, 40, 40]


def test_pq_removal_leaves_no_code_of_the_template(tmp_path, faces):
    vectors, queries = faces
    path = tmp_path / "g.gallery"
    last = len(vectors) - 1  # the last code: FAISS leaves its slot's bytes behind unless zeroed
    with enrolled(path, vectors, IndexConfig(kind="pq")) as gallery:
        live, _, codes = packed_codes(gallery)
        victim_codes = codes.pq.compute_codes(vectors[[3, last]])
        assert all((live == code).all(axis=1).any() for code in victim_codes)  # visible before
        gallery.remove(["p3", f"p{last}"])
        live, padding, _ = packed_codes(gallery)
        assert not any((live == code).all(axis=1).any() for code in victim_codes)
        assert len(padding) and not padding.any()
        assert gallery.check().ok and {"p3", f"p{last}"}.isdisjoint(
            {m.identity_id for r in gallery.search_embeddings(queries, k=5) for m in r.matches})
    with Gallery.open(path, readonly=True) as reopened:  # the rewritten file, as loaded
        reopened.search_embedding(queries[0], k=1)
        live, padding, _ = packed_codes(reopened)
        assert not any((live == code).all(axis=1).any() for code in victim_codes) and not padding.any()


def test_hnsw_is_rebuilt_when_removals_empty_too_many_nodes(tmp_path, faces):
    vectors, _ = faces
    with enrolled(tmp_path / "g.gallery", vectors, IndexConfig(kind="hnsw")) as gallery:
        gone = [f"p{i}" for i in range(int(len(vectors) * HNSW_EMPTY_SHARE) + 2)]
        gallery.remove(gone)  # rewriting the index file after a removal rebuilds an over-emptied graph
        index = gallery.stats()["index"]
        assert index["emptied_nodes"] == 0 and index["entries"] == len(vectors) - len(gone)
        assert gallery.check().ok


def test_auto_switches_to_the_measured_winner_above_the_size(tmp_path, faces):
    vectors, _ = faces
    config = IndexConfig(approximate_above=len(vectors) // 2)
    with enrolled(tmp_path / "g.gallery", vectors[:len(vectors) // 2 - 1], config) as gallery:
        assert gallery.stats()["index"]["kind"] == "flat"
        gallery.enroll_many([EnrollRecord(f"q{i}", v) for i, v in enumerate(vectors[len(vectors) // 2:])])
        gallery.flush()
        assert gallery.stats()["index"]["kind"] == AUTO_APPROXIMATE


@pytest.mark.parametrize("settings, message", [
    ({"kind": "annoy"}, "index kind must be one of"),
    ({"kind": "hnsw", "m": 2}, "m must be an integer from 4 to 128"),
    ({"ef_search": 0}, "ef_search must be an integer from 1"),
    ({"ef_construction": True}, "ef_construction must be an integer"),
    ({"nprobe": 1.5}, "nprobe must be an integer"),
    ({"m": "32"}, "m must be an integer"),
    ({"approximate_above": -1}, "approximate_above must be an integer >= 1"),
    ({"pq_m": 1}, "pq_m must be an integer from 2 to 256"),
    ({"kind": "pq", "rescore": 0}, "rescore must be an integer from 1 to 4096"),
    ({"kind": "ivfpq", "nprobe": 0}, "nprobe must be an integer from 1"),
    ({"kind": "ivfpq", "nlist": 0}, "nlist must be an integer from 1"),
    ({"kind": "ivfpq", "refine": 0}, "refine must be an integer from 1 to 65536"),
])
def test_bad_index_settings_are_config_errors(tmp_path, settings, message):
    with pytest.raises(ConfigError, match=message) as caught:
        IndexConfig(**settings)
    assert isinstance(caught.value, FacetrustError)
    with pytest.raises(ConfigError, match=message):
        Gallery.create(tmp_path / "g.gallery", "edgeface-xs", index=IndexConfig.from_dict(settings))
    assert not (tmp_path / "g.gallery").exists()


def test_cli_creates_an_hnsw_gallery_and_refuses_bad_settings_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from facetrust.cli.main import app

    runner = CliRunner()
    made = runner.invoke(app, ["gallery", "create", str(tmp_path / "h.gallery"), "--recognizer", "edgeface-xs",
                               "--index", "hnsw", "--hnsw-m", "16", "--ef-search", "100"])
    assert made.exit_code == 0, made.output
    with Gallery.open(tmp_path / "h.gallery", readonly=True) as gallery:
        assert gallery.stats()["index"]["config"] == {**IndexConfig().to_dict(), "kind": "hnsw", "m": 16,
                                                      "ef_search": 100}
    refused = runner.invoke(app, ["gallery", "create", str(tmp_path / "bad.gallery"), "--index", "hnsw",
                                  "--ef-search", "0"])
    assert refused.exit_code != 0 and len(refused.output.strip().splitlines()) == 1
    assert "ef_search must be an integer from 1" in refused.output and "Traceback" not in refused.output
    assert not (tmp_path / "bad.gallery").exists()


def test_pq_m_that_does_not_divide_the_dimension_is_a_config_error(tmp_path, faces):
    vectors, _ = faces
    path = tmp_path / "g.gallery"
    with pytest.raises(ConfigError, match="pq_m must divide the embedding dimension 512, got 48"):
        Gallery.create(path, "edgeface-xs", index=IndexConfig(kind="pq", pq_m=48))
    assert not path.exists()
    with Gallery.create(path, "edgeface-xs") as gallery:
        gallery.enroll_many([EnrollRecord(f"p{i}", v) for i, v in enumerate(vectors[:50])])
    with pytest.raises(ConfigError, match="pq_m must divide"):
        Gallery.open(path, index=IndexConfig(kind="pq", pq_m=48))
    with Gallery.open(path) as gallery:
        assert len(gallery) == 50 and gallery.stats()["index"]["kind"] == "flat"  # nothing lost or changed


def face_like(faces: tuple[np.ndarray, np.ndarray], n: int, seed: int = 0) -> np.ndarray:
    """``n`` synthetic distractors with the mean and covariance of the real embeddings, normalised
    (as bench/bench_gallery.py makes them)."""
    real = np.concatenate(faces)
    rows = np.random.default_rng(seed).multivariate_normal(real.mean(axis=0), np.cov(real.T), size=n)
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def ivfpq_padding(gallery: Gallery) -> np.ndarray:
    """The bytes of every inverted list's slots past its end, in the last 32-code block."""
    import faiss

    lists = gallery.backend._index.index.lists  # type: ignore[attr-defined]
    packer = lists.get_CodePacker()
    padding = []
    for list_no in range(lists.nlist):
        size = lists.invlists.list_size(list_no)
        used = -(-size // packer.nvec)
        if used:
            blocks = faiss.rev_swig_ptr(lists.invlists.get_codes(list_no), used * packer.block_size).reshape(used, -1)
            padding += [packer.unpack_1(blocks, slot) for slot in range(size, used * packer.nvec)]
    return np.array(padding)


def test_ivfpq_at_20k_finds_the_exact_top1_keeps_it_across_reopen_add_and_remove(tmp_path, faces):
    """The default ivfpq setting (lists, share scanned, candidates re-ranked and re-scored) on 240
    real faces among 20,000 face-like distractors: the target recall against exact search, a reopened
    index that answers the same, templates added after the build found, removed ones gone."""
    vectors, queries = faces
    gallery_rows = np.concatenate([vectors, face_like(faces, 20_000)])
    path = tmp_path / "g.gallery"
    with enrolled(path, gallery_rows, IndexConfig(kind="ivfpq")) as gallery:
        index = gallery.stats()["index"]
        assert index["kind"] == "ivfpq" and index["entries"] == len(gallery_rows)
        assert index["span_dims"] == 192  # EdgeFace-XS embeddings span 192 of their 512 dimensions
        results = gallery.search_embeddings(queries, k=3)
        before = [r.to_dict() for r in results]
    exact = queries @ gallery_rows.T
    top1 = np.array([int(r.matches[0].identity_id[1:]) for r in results])
    assert (top1 == exact.argmax(axis=1)).mean() >= 0.99
    assert_exact_scores(results, exact)

    with warnings.catch_warnings():
        warnings.simplefilter("error", GalleryIndexWarning)  # loaded as saved, not rebuilt
        with Gallery.open(path) as gallery:
            assert [r.to_dict() for r in gallery.search_embeddings(queries, k=3)] == before
            # Added after the build: each query's own second photo, enrolled under a new id.
            gallery.enroll_many([EnrollRecord(f"again{i}", q) for i, q in enumerate(queries[:20])])
            found = gallery.search_embeddings(queries[:20], k=1)
            assert [r.matches[0].identity_id for r in found] == [f"again{i}" for i in range(20)]
            assert [r.matches[0].score for r in found] == pytest.approx([1.0] * 20, abs=1e-5)

            victims = [f"p{i}" for i in range(10)] + ["again0", f"p{len(gallery_rows) - 1}"]
            gallery.remove(victims)
            assert gallery.stats()["index"]["entries"] == len(gallery_rows) + 20 - len(victims)
            assert gallery.check().ok
            assert not ivfpq_padding(gallery).any()  # no code left behind in a list's last block
            left = gallery.search_embeddings(queries, k=5)
            assert not set(victims) & {m.identity_id for r in left for m in r.matches}
    with Gallery.open(path, readonly=True) as reopened:
        reopened.search_embedding(queries[0], k=1)
        assert not ivfpq_padding(reopened).any() and reopened.check().ok


def test_ivfpq_with_more_lists_than_the_gallery_can_train_is_a_config_error(tmp_path, faces):
    vectors, queries = faces
    path = tmp_path / "g.gallery"
    gallery = Gallery.create(path, "edgeface-xs", index=IndexConfig(kind="ivfpq", nlist=64))
    gallery.enroll_many([EnrollRecord(f"p{i}", v) for i, v in enumerate(vectors)])
    with pytest.raises(ConfigError, match=r"nlist=64 needs at least 2,496 templates \(39 per list\) to train, "
                                          r"the gallery has 240$"):
        gallery.search_embedding(queries[0])
    with pytest.warns(GalleryIndexWarning, match="nlist=64 needs"):  # the database is complete: closed
        gallery.close()
    with Gallery.open(path, index=IndexConfig(kind="ivfpq", nlist=4)) as gallery:  # nothing was lost
        assert len(gallery) == len(vectors) and gallery.stats()["index"]["nlist"] == 4


def test_cli_creates_an_ivfpq_gallery_and_refuses_bad_settings_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from facetrust.cli.main import app

    runner = CliRunner()
    made = runner.invoke(app, ["gallery", "create", str(tmp_path / "i.gallery"), "--recognizer", "edgeface-xs",
                               "--index", "ivfpq", "--nprobe", "8", "--refine", "128", "--rescore", "4"])
    assert made.exit_code == 0, made.output
    with Gallery.open(tmp_path / "i.gallery", readonly=True) as gallery:
        assert gallery.stats()["index"]["config"] == {**IndexConfig().to_dict(), "kind": "ivfpq", "nprobe": 8,
                                                      "refine": 128, "rescore": 4}
    for option, message in [("--nprobe", "nprobe must be an integer from 1"),
                            ("--refine", "refine must be an integer from 1 to 65536")]:
        refused = runner.invoke(app, ["gallery", "create", str(tmp_path / "bad.gallery"), "--index", "ivfpq",
                                      option, "0"])
        assert refused.exit_code != 0 and len(refused.output.strip().splitlines()) == 1
        assert message in refused.output and "Traceback" not in refused.output
        assert not (tmp_path / "bad.gallery").exists()


def test_ivfpq_index_of_an_encrypted_gallery_is_sealed_and_reopens(tmp_path, faces):
    from facetrust.gallery.faiss_index import serialize
    from facetrust.privacy import ProtectionKey, save_key

    vectors, queries = faces
    key = save_key(ProtectionKey.generate(), tmp_path / "keys" / "gallery.key")
    path = tmp_path / "vault.gallery"
    config = IndexConfig(kind="ivfpq", nlist=2, nprobe=2, refine=16, rescore=2)
    with Gallery.create(path, "edgeface-xs", index=config, encryption_key=key) as gallery:
        gallery.enroll_many([EnrollRecord(f"p{i}", v) for i, v in enumerate(vectors)])
        before = [r.to_dict() for r in gallery.search_embeddings(queries, k=3)]
        gallery.flush()
        clear = serialize(gallery.backend._index.index).tobytes()  # type: ignore[attr-defined]
    sealed = index_bytes(path)
    # Neither the codes nor the projection are in the file (64-byte slices at several offsets).
    assert not [at for at in range(0, len(clear) - 64, len(clear) // 50) if clear[at:at + 64] in sealed]
    with warnings.catch_warnings():
        warnings.simplefilter("error", GalleryIndexWarning)  # decrypted and loaded, not rebuilt
        with Gallery.open(path, readonly=True, encryption_key=key) as reopened:
            assert reopened.stats()["index"]["kind"] == "ivfpq"
            assert [r.to_dict() for r in reopened.search_embeddings(queries, k=3)] == before
