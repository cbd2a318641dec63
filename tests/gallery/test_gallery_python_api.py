"""The Gallery API on both backends (embedded SQLite + FAISS, and PostgreSQL + pgvector), with embeddings."""
from __future__ import annotations

import json

import numpy as np
import pytest

from facetrust.errors import (
    DuplicateIdentityError, EmbeddingError, GalleryError, IdentityNotFoundError, ModelMismatchError,
)
from facetrust.gallery import EnrollRecord, Gallery, ModelIdentity, NewTemplate, model_identity

from gallery_vectors import noisy, unit_vectors


def test_enrol_then_identify_with_exact_scores(make_gallery):
    gallery = make_gallery()
    vectors = unit_vectors(60, seed=1)
    assert gallery.enroll_many([EnrollRecord(f"p{i}", vectors[i], name=f"Person {i}") for i in range(60)],
                               batch_size=25) == 60
    assert len(gallery) == 60
    queries = np.stack([noisy(v, seed=i) for i, v in enumerate(vectors)])
    results = gallery.search_embeddings(queries, k=3, threshold=0.9)
    for i, result in enumerate(results):
        assert [m.identity_id for m in result.matches][0] == f"p{i}"
        assert result.identity == f"p{i}" and result.matches[0].name == f"Person {i}"
        assert len(result.matches) == 3
        scores = [m.score for m in result.matches]
        assert scores == sorted(scores, reverse=True)
        # Scores are exact cosine similarities, whatever the index did.
        expected = vectors @ queries[i]
        for match in result.matches:
            assert match.score == pytest.approx(float(expected[int(match.identity_id[1:])]), abs=1e-5)


def test_unknown_face_is_rejected_at_the_calibrated_threshold(make_gallery):
    gallery = make_gallery()
    vectors = unit_vectors(21, seed=2)
    gallery.enroll_many([EnrollRecord(f"p{i}", vectors[i]) for i in range(20)])
    threshold = gallery.threshold()  # dlib-resnet at FMR 1e-3
    stranger = gallery.search_embedding(vectors[20])
    assert stranger.identity is None and stranger.threshold == threshold
    assert stranger.matches[0].score < threshold
    assert gallery.search_embedding(vectors[3]).identity == "p3"
    assert gallery.search_embedding(vectors[3], fmr=1e-5).threshold > threshold


def test_fusion_takes_each_identitys_best_template_and_fills_top_k(make_gallery):
    gallery = make_gallery()
    base = unit_vectors(1, seed=3)[0]
    # One identity with 40 templates near the query must not crowd the others out of the top 5.
    crowd = np.stack([noisy(base, seed=s, scale=0.05) for s in range(40)])
    gallery.enroll("crowd", embeddings=crowd)
    others = np.stack([noisy(base, seed=100 + s, scale=0.3) for s in range(6)])
    gallery.enroll_many([EnrollRecord(f"o{i}", others[i]) for i in range(6)])
    query = noisy(base, seed=999, scale=0.02)
    result = gallery.search_embedding(query, k=5, threshold=0.5)
    assert [m.identity_id for m in result.matches][0] == "crowd"
    assert len({m.identity_id for m in result.matches}) == 5
    assert result.matches[0].score == pytest.approx(float((crowd @ query).max()), abs=1e-5)
    templates = gallery.get("crowd").templates
    assert result.matches[0].template_id == templates[int(np.argmax(crowd @ query))].id


def test_duplicates_unknown_ids_and_atomic_batches(make_gallery):
    gallery = make_gallery()
    vectors = unit_vectors(5, seed=4)
    gallery.enroll("a", embeddings=vectors[0])
    with pytest.raises(DuplicateIdentityError, match="a"):
        gallery.enroll("a", embeddings=vectors[1])
    # A batch with one duplicate stores nothing of that batch.
    with pytest.raises(DuplicateIdentityError):
        gallery.enroll_many([EnrollRecord("b", vectors[1]), EnrollRecord("a", vectors[2])])
    assert "b" not in gallery and len(gallery) == 1
    assert gallery.enroll_many([EnrollRecord("b", vectors[1]), EnrollRecord("a", vectors[2])],
                               on_duplicate="skip") == 1
    for call in (lambda: gallery.get("nobody"), lambda: gallery.update("nobody", name="x"),
                 lambda: gallery.add_templates("nobody", embeddings=vectors[3]),
                 lambda: gallery.remove_template(10**9)):
        with pytest.raises(IdentityNotFoundError):
            call()
    with pytest.raises(IdentityNotFoundError, match="nobody"):
        gallery.remove(["a", "nobody"])
    assert "a" in gallery  # nothing removed
    with pytest.raises(GalleryError):
        gallery.enroll("", embeddings=vectors[3])


def test_bad_embeddings_are_refused_and_store_nothing(make_gallery):
    gallery = make_gallery()
    good = unit_vectors(1, seed=5)[0]
    nan = good.copy()
    nan[7] = np.nan
    for bad in (np.ones(64), nan, np.full(128, np.inf), np.zeros(128), np.ones((2, 3, 128)), ["x"] * 128):
        with pytest.raises(EmbeddingError):
            gallery.enroll("x", embeddings=bad)
        with pytest.raises(EmbeddingError):
            gallery.search_embeddings(bad)
    with pytest.raises(GalleryError, match="at least one"):
        gallery.enroll("x")
    with pytest.raises(GalleryError, match="JSON"):
        gallery.enroll("x", embeddings=good, metadata={"when": object()})
    with pytest.raises(GalleryError, match="quality"):
        gallery.enroll("x", embeddings=good, quality=[float("nan")])
    assert len(gallery) == 0
    # Not yet unit length: normalised on the way in.
    gallery.enroll("x", embeddings=good * 3.0)
    assert gallery.search_embedding(good).matches[0].score == pytest.approx(1.0, abs=1e-6)


def test_embeddings_of_another_model_are_refused(make_gallery, tmp_path):
    gallery = make_gallery()
    vector = unit_vectors(1, seed=6)[0]
    assert gallery.model == model_identity("dlib-resnet")
    with pytest.raises(ModelMismatchError, match="mobilefacenet"):
        gallery.enroll("a", embeddings=vector, model="mobilefacenet")
    retrained = ModelIdentity("dlib-resnet", "0" * 64, 128)  # same name, other weights
    with pytest.raises(ModelMismatchError):
        gallery.search_embeddings(vector, model=retrained)
    from facetrust.analyzer import FaceAnalyzer

    with pytest.raises(ModelMismatchError):
        gallery.analyzer = FaceAnalyzer(recognizer="mobilefacenet")
    # An export made with another model cannot be imported.
    with Gallery.create(tmp_path / "mfn.gallery", "mobilefacenet") as other:
        other.enroll("z", embeddings=vector)
        other.export(tmp_path / "mfn.jsonl")
    with pytest.raises(ModelMismatchError):
        gallery.import_file(tmp_path / "mfn.jsonl")
    assert len(gallery) == 0
    gallery.enroll("a", embeddings=vector, model="dlib-resnet")


def test_metadata_names_templates_and_listing(make_gallery):
    gallery = make_gallery()
    vectors = unit_vectors(4, seed=7)
    identity = gallery.enroll("a", embeddings=vectors[:2], name="Ann", metadata={"team": "x", "level": 1},
                              quality=[0.9, 0.4])
    assert [t.quality for t in identity.templates] == pytest.approx([0.9, 0.4])
    gallery.enroll("b", embeddings=[NewTemplate(vectors[2], quality=0.7, source="cam-3")])
    assert gallery.get("b").templates[0].source == "cam-3"
    assert gallery.update("a", metadata={"level": 2}, merge=True).metadata == {"team": "x", "level": 2}
    assert gallery.update("a", metadata={"only": True}).metadata == {"only": True}
    assert gallery.update("a", name="Anne").name == "Anne"
    new_ids = gallery.add_templates("b", embeddings=vectors[3])
    assert len(gallery.get("b").templates) == 2 and new_ids[0] in {t.id for t in gallery.get("b").templates}
    assert [i.id for i in gallery.list()] == ["a", "b"]
    assert [i.id for i in gallery.list(offset=1, limit=5)] == ["b"]
    json.dumps([i.to_dict() for i in gallery.list()])  # JSON-ready
    stats = gallery.stats()
    assert stats["identities"] == 2 and stats["templates"] == 4 and stats["model"]["name"] == "dlib-resnet"


def test_removal_of_identities_and_templates(make_gallery):
    gallery = make_gallery()
    vectors = unit_vectors(6, seed=8)
    gallery.enroll("a", embeddings=vectors[:2])
    gallery.enroll_many([EnrollRecord(f"p{i}", vectors[i]) for i in range(2, 6)])
    first, second = gallery.get("a").templates
    gallery.remove_template(first.id)
    assert [t.id for t in gallery.get("a").templates] == [second.id]
    assert gallery.search_embedding(vectors[0], k=10).matches[0].template_id != first.id
    with pytest.raises(GalleryError, match="only one"):
        gallery.remove_template(second.id)
    assert gallery.remove(["a", "p2", "a"]) == (2, 2)  # the templates erased with them are counted
    assert len(gallery) == 3
    found = {m.identity_id for m in gallery.search_embedding(vectors[1], k=10).matches}
    assert found == {"p3", "p4", "p5"}
    assert gallery.check().ok


def test_export_import_round_trip_is_exact(make_gallery, tmp_path):
    gallery = make_gallery()
    vectors = unit_vectors(30, seed=9)
    gallery.enroll_many([EnrollRecord(f"p{i}", vectors[i:i + 1], name=f"P{i}", metadata={"i": i})
                         for i in range(30)])
    gallery.add_templates("p0", embeddings=vectors[29])
    assert gallery.export(tmp_path / "out.jsonl.gz") == 30
    copy = Gallery.from_export(tmp_path / "copy.gallery", tmp_path / "out.jsonl.gz")
    try:
        assert len(copy) == 30 and copy.get("p7").metadata == {"i": 7} and copy.get("p7").name == "P7"
        original = {ident.id: vecs for ident, vecs in gallery.backend.iter_export()}  # type: ignore[attr-defined]
        copied = {ident.id: vecs for ident, vecs in copy.backend.iter_export()}  # type: ignore[attr-defined]
        assert original.keys() == copied.keys()
        assert all(np.array_equal(original[k], copied[k]) for k in original)
        assert original["p0"].shape == (2, 128)
        with pytest.raises(DuplicateIdentityError):
            copy.import_file(tmp_path / "out.jsonl.gz")
        assert copy.import_file(tmp_path / "out.jsonl.gz", on_duplicate="skip") == 0
    finally:
        copy.close()
    (tmp_path / "not-export.jsonl").write_text('{"hello": 1}\n')
    with pytest.raises(GalleryError, match="not a gallery export"):
        gallery.import_file(tmp_path / "not-export.jsonl")


def test_second_connection_sees_writes_and_read_only_refuses_them(make_gallery):
    writer = make_gallery()
    vectors = unit_vectors(3, seed=10)
    writer.enroll("a", embeddings=vectors[0])
    reader = make_gallery.reopen(writer, readonly=True)
    assert reader.search_embedding(vectors[0]).identity == "a"
    writer.enroll("b", embeddings=vectors[1])
    writer.remove("a")
    assert reader.search_embedding(vectors[1]).identity == "b"
    assert "a" not in {m.identity_id for m in reader.search_embedding(vectors[0], k=5).matches}
    with pytest.raises(GalleryError, match="read-only"):
        reader.enroll("c", embeddings=vectors[2])
    with pytest.raises(GalleryError, match="read-only"):
        reader.remove("b")
    assert len(writer) == 1
