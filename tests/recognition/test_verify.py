"""1:1 verification with the embedded default models and with MobileFaceNet."""
from __future__ import annotations

import numpy as np
import pytest

from facetrust import FaceAnalyzer
from facetrust.errors import ConfigError, FaceNotFoundError
from facetrust.recognition import load_calibration

EXAMPLES = "ageitgey_face_recognition/examples"
SAME = [
    (f"{EXAMPLES}/obama.jpg", f"{EXAMPLES}/obama2.jpg"),
    (f"{EXAMPLES}/knn_examples/train/biden/biden.jpg", f"{EXAMPLES}/knn_examples/train/biden/biden2.jpg"),
    (f"{EXAMPLES}/knn_examples/train/kit_harington/john1.jpeg", f"{EXAMPLES}/knn_examples/train/kit_harington/john2.jpeg"),
    (f"{EXAMPLES}/knn_examples/train/rose_leslie/img1.jpg", f"{EXAMPLES}/knn_examples/train/rose_leslie/img2.jpg"),
    (f"{EXAMPLES}/alex-lacamoire.png", f"{EXAMPLES}/knn_examples/train/alex_lacamoire/img1.jpg"),
    ("davidsandberg_facenet/Anthony_Hopkins_0001.jpg", "davidsandberg_facenet/Anthony_Hopkins_0002.jpg"),
]
DIFFERENT = [
    (f"{EXAMPLES}/obama.jpg", f"{EXAMPLES}/biden.jpg"),
    (f"{EXAMPLES}/knn_examples/train/kit_harington/john1.jpeg", f"{EXAMPLES}/knn_examples/train/rose_leslie/img1.jpg"),
    (f"{EXAMPLES}/lin-manuel-miranda.png", f"{EXAMPLES}/alex-lacamoire.png"),
    ("timesler_facenet-pytorch/data/test_images/angelina_jolie/1.jpg", "timesler_facenet-pytorch/data/test_images/kate_siegel/1.jpg"),
    ("timesler_facenet-pytorch/data/test_images/paul_rudd/1.jpg", "timesler_facenet-pytorch/data/test_images/shea_whigham/1.jpg"),
]
CONFIGS = [("dlib-hog", "dlib-resnet"), ("yunet", "mobilefacenet")]
#: Measured false matches at the default FMR of 1e-3, reported rather than hidden
#: (docs/recognition.md): MobileFaceNet scores Angelina Jolie vs Kate Siegel 0.513
#: (threshold 0.346); dlib-resnet scores the same pair 0.920 (threshold 0.928).
KNOWN_FALSE_MATCHES = {("mobilefacenet", "angelina_jolie/1.jpg")}


@pytest.fixture(scope="module", params=CONFIGS, ids=lambda c: "+".join(c))
def configured(request):
    detector, recognizer = request.param
    return FaceAnalyzer(detector=detector, recognizer=recognizer)


def test_smoke_astronaut_vs_grace_hopper_no_shared_data(analyzer, astronaut, grace_hopper_path):
    """Runs anywhere: both faces ship inside PyPI packages."""
    result = analyzer.verify(astronaut, grace_hopper_path)
    assert result.same is False and result.faces_in_a == 1 and result.faces_in_b == 1
    assert result.similarity < result.threshold
    assert analyzer.verify(astronaut, np.fliplr(astronaut).copy()).same is True


@pytest.mark.parametrize("pair", SAME, ids=lambda p: p[0].split("/")[-1])
def test_same_person_pairs(configured, shared, pair):
    root = shared / "data" / "faces"
    result = configured.verify(root / pair[0], root / pair[1])
    assert result.same, f"{pair}: similarity {result.similarity:.3f} < threshold {result.threshold:.3f}"


@pytest.mark.parametrize("pair", DIFFERENT, ids=lambda p: p[0].split("/")[-1])
def test_different_person_pairs(configured, shared, pair):
    root = shared / "data" / "faces"
    result = configured.verify(root / pair[0], root / pair[1])
    message = f"{pair}: similarity {result.similarity:.3f} >= threshold {result.threshold:.3f}"
    if result.same and (configured.config.recognizer, pair[0].split("/", 3)[-1]) in KNOWN_FALSE_MATCHES:
        pytest.xfail(f"known false match: {message}")
    assert not result.same, message


def test_embeddings_are_unit_vectors(configured, astronaut, grace_hopper_path):
    batch = configured.embed([astronaut, grace_hopper_path, np.full((200, 200, 3), 90, np.uint8)])
    assert batch.vectors.shape == (3, configured.recognizer.dim)
    assert batch.found.tolist() == [True, True, False]
    assert np.allclose(np.linalg.norm(batch.vectors[:2], axis=1), 1.0, atol=1e-5)
    assert batch.faces[2] is None and np.all(batch.vectors[2] == 0)


def test_no_face_in_verify_names_the_image(analyzer, astronaut):
    blank = np.full((300, 300, 3), 128, dtype=np.uint8)
    with pytest.raises(FaceNotFoundError, match="image b"):
        analyzer.verify(astronaut, blank)


def test_several_faces_uses_largest_unless_told_otherwise(shared):
    analyzer = FaceAnalyzer(preset="dlib")  # the face order below is by dlib-hog's box sizes
    group = shared / "data" / "faces" / EXAMPLES / "knn_examples/test/obama_and_biden.jpg"
    biden = shared / "data" / "faces" / EXAMPLES / "biden.jpg"
    obama = shared / "data" / "faces" / EXAMPLES / "obama.jpg"
    faces = analyzer.analyze(group)
    largest = analyzer.verify(group, biden)
    assert largest.faces_in_a == 3
    assert np.allclose(largest.face_a.box, faces[0].box)
    by_index = [analyzer.verify(group, obama, select=(i, "largest")).same for i in range(3)]
    assert by_index == [True, False, False]  # the largest face (by a few pixels) is Obama
    with pytest.raises(ConfigError, match="out of range"):
        analyzer.verify(group, obama, select=5)


def test_best_pair_finds_the_person_in_a_group_photo(analyzer, shared):
    """The group photo holds Obama, Biden and a third face: best-pair finds Biden's face among
    the 3 x 1 pairs and says how many comparisons the decision took; the other faces do not
    match him; the default (largest face) says which face it used."""
    group = shared / "data" / "faces" / EXAMPLES / "knn_examples/test/obama_and_biden.jpg"
    biden = shared / "data" / "faces" / EXAMPLES / "knn_examples/train/biden/biden2.jpg"
    largest = analyzer.verify(group, biden)
    assert (largest.index_a, largest.comparisons) == (0, 1)
    assert largest.hint.startswith("image a has 3 faces, face 0 at (")
    best = analyzer.verify(group, biden, select="best-pair")
    assert best.same and best.index_b == 0 and best.comparisons == 3
    others = [analyzer.verify(group, biden, select=(i, 0)) for i in range(3) if i != best.index_a]
    assert not any(other.same for other in others)
    reference = analyzer.analyze(biden)[0].embedding
    assert best.similarity == pytest.approx(max(float(np.dot(face.embedding, reference))
                                                for face in analyzer.analyze(group)))
    assert best.fmr_upper_bound == pytest.approx(3 * best.fmr) and "up to 0.003" in best.hint
    assert best.to_dict()["comparisons"] == 3 and best.to_dict()["index_a"] == best.index_a
    single = analyzer.verify(biden, biden, select="best-pair")
    assert single.comparisons == 1 and single.hint is None and single.to_dict()["hint"] is None
    with pytest.raises(ConfigError, match="pass it alone"):
        analyzer.verify(group, biden, select=("best-pair", "largest"))
    with pytest.raises(ConfigError, match="'best-pair' or a face index, got 'bestpair'"):
        analyzer.verify(group, biden, select="bestpair")


@pytest.mark.parametrize("recognizer", ["dlib-resnet", "mobilefacenet"])
def test_calibrated_thresholds(recognizer):
    calibration = load_calibration(recognizer)
    assert calibration.impostor_pairs > 10_000_000
    strict, default, loose = (calibration.threshold_at(f) for f in (1e-5, 1e-3, 1e-2))
    assert strict > default > loose  # a lower FMR needs a higher similarity
    between = calibration.threshold_at(3e-3)
    assert calibration.threshold_at(5e-3) < between < calibration.threshold_at(2e-3)
    with pytest.raises(ConfigError, match="below the smallest calibrated FMR"):
        calibration.threshold_at(1e-9)
    with pytest.raises(ConfigError, match=r"\(0, 1\)"):
        calibration.threshold_at(0.0)


def test_other_fmr_changes_the_decision_threshold(analyzer, astronaut, grace_hopper_path):
    strict = analyzer.verify(astronaut, grace_hopper_path, fmr=1e-5)
    loose = analyzer.verify(astronaut, grace_hopper_path, fmr=1e-2)
    assert strict.threshold > loose.threshold and strict.similarity == pytest.approx(loose.similarity)


def test_aligned_crops_on_request(shared, astronaut):
    crops = {rec: FaceAnalyzer(detector="yunet", recognizer=rec).analyze(astronaut, keep_aligned=True)[0].aligned
             for rec in ("dlib-resnet", "mobilefacenet")}
    assert crops["dlib-resnet"].shape == (150, 150, 3)
    assert crops["mobilefacenet"].shape == (112, 112, 3)
