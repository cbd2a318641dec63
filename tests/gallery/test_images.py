"""Identification on real photos with the default models (dlib HOG + dlib ResNet)."""
from __future__ import annotations

from pathlib import Path

import pytest

from facetrust.errors import FaceNotFoundError, MultipleFacesError
from facetrust.gallery import Gallery

EXAMPLES = "data/faces/ageitgey_face_recognition/examples/knn_examples"
TRAIN = {  # one colour photo per identity (small ones, to keep dlib's time down)
    "obama": ["train/obama/obama.jpg", "train/obama/obama2.jpg"],
    "biden": ["train/biden/biden2.jpg"],
    "kit_harington": ["train/kit_harington/john2.jpeg"],
    "rose_leslie": ["train/rose_leslie/img2.jpg"],
    "alex_lacamoire": ["train/alex_lacamoire/img1.jpg"],
}


@pytest.fixture(scope="module")
def people(shared: Path, analyzer, tmp_path_factory) -> Gallery:
    gallery = Gallery.create(tmp_path_factory.mktemp("people") / "people.gallery", analyzer=analyzer)
    for identity, files in TRAIN.items():
        gallery.enroll(identity, [shared / EXAMPLES / f for f in files], name=identity.replace("_", " ").title())
    yield gallery
    gallery.close()


@pytest.mark.parametrize("photo, identity", [
    ("test/obama1.jpg", "obama"),
    ("test/johnsnow_test1.jpg", "kit_harington"),
    ("test/alex_lacamoire1.jpg", "alex_lacamoire"),
])
def test_new_photos_are_identified(people, shared, photo, identity):
    result = people.search(shared / EXAMPLES / photo, k=3)
    assert result.identity == identity
    assert result.matches[0].score >= result.threshold > result.matches[1].score
    assert result.face is not None and len(result.face.box) == 4


def test_every_face_of_a_group_photo(people, shared):
    results = people.search_faces(shared / EXAMPLES / "test/kit_with_rose.jpg")
    assert sorted(r.identity for r in results) == ["kit_harington", "rose_leslie"]


def test_someone_not_enrolled_is_rejected(people, shared):
    result = people.search(shared / "data/faces/ageitgey_face_recognition/examples/lin-manuel-miranda.png")
    assert result.identity is None and result.matches[0].score < result.threshold


def test_fusion_score_is_the_best_of_obamas_two_templates(people, shared, analyzer):
    probe = analyzer.embed([shared / EXAMPLES / "test/obama1.jpg"]).vectors[0]
    templates = analyzer.embed([shared / EXAMPLES / f for f in TRAIN["obama"]]).vectors
    result = people.search_embedding(probe, k=1)
    assert result.matches[0].score == pytest.approx(float((templates @ probe).max()), abs=1e-5)


def test_enrolment_images_need_exactly_one_face(people, shared):
    group = shared / EXAMPLES / "test/kit_with_rose.jpg"
    before = len(people)
    with pytest.raises(MultipleFacesError, match="2 faces"):
        people.enroll("pair", [group])
    from skimage import data

    with pytest.raises(FaceNotFoundError):
        people.enroll("coffee", [shared / EXAMPLES / TRAIN["biden"][0], data.coffee()])
    assert len(people) == before and "coffee" not in people  # nothing stored
    identity = people.enroll("pair", [group], select="largest")
    assert len(identity.templates) == 1 and identity.templates[0].source == str(group)
    people.remove("pair")


def test_lfw_identities_with_several_templates(shared, analyzer, tmp_path):
    """Eight LFW people (the first, alphabetically, with 3+ photos): two photos enrolled as
    templates each, the third identifies them."""
    lfw = shared / "data" / "lfw"
    people = [d for d in sorted(lfw.iterdir()) if len(list(d.glob("*.jpg"))) >= 3][:8]
    with Gallery.create(tmp_path / "lfw.gallery", analyzer=analyzer) as gallery:
        for person in people:
            photos = sorted(person.glob("*.jpg"))
            # LFW photos are tight crops of one person, sometimes with others at the border.
            gallery.enroll(person.name, photos[:2], select="center")
        assert len(gallery) == 8 and gallery.check().ok
        probes = analyzer.embed([sorted(p.glob("*.jpg"))[2] for p in people], select="center")
        assert probes.found.all()
        results = gallery.search_embeddings(probes.vectors, k=8)
    assert [r.matches[0].identity_id for r in results] == [p.name for p in people]
    assert all(len(r.matches) == 8 for r in results)
    # Open set at FMR 1e-3: no one is taken for another enrolled person.
    assert all(r.identity in (None, person.name) for r, person in zip(results, people))
    assert max(r.matches[1].score for r in results) < results[0].threshold
