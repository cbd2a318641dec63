"""Score-level fusion ``fusion:A+B`` as a recognizer, on real photos."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facetrust import FaceAnalyzer
from facetrust.alignment.similarity import ARCFACE_TEMPLATE_112
from facetrust.errors import ConfigError, MissingEmbeddingError
from facetrust.recognition import RECOGNIZERS, load_calibration
from facetrust.types import Detection

pytestmark = pytest.mark.usefixtures("shared")

FUSION = "fusion:edgeface-xs+reid-0095"
EXAMPLES = "ageitgey_face_recognition/examples"


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer(detector="yunet", recognizer=FUSION)


def test_fused_score_is_the_weighted_sum_of_member_cosines(analyzer: FaceAnalyzer, shared: Path) -> None:
    fusion = analyzer.recognizer
    assert fusion.name == FUSION and fusion.dim == 512 + 256
    weights = fusion.weights()
    assert set(weights) == {"edgeface-xs", "reid-0095"} and sum(weights.values()) == pytest.approx(1.0)
    root = shared / "data" / "faces" / EXAMPLES
    images = [analyzer.load(root / name) for name in ("obama.jpg", "obama2.jpg", "biden.jpg")]
    crops = [fusion.align(image, analyzer.detect_rgb(image)[0]) for image in images]
    fused = fusion.embed_aligned(crops)
    assert np.allclose(np.linalg.norm(fused, axis=1), 1.0, atol=1e-5)
    # Each member embedded on its own, from the same ArcFace crop.
    template = Detection((0, 0, 112, 112), 1.0, ARCFACE_TEMPLATE_112.copy())
    members = {name: RECOGNIZERS.create(name) for name in weights}
    vectors = {name: m.embed_aligned([m.align(c, template) for c in crops]) for name, m in members.items()}
    for i, j in ((0, 1), (0, 2), (1, 2)):
        expected = sum(w * float(vectors[n][i] @ vectors[n][j]) for n, w in weights.items())
        assert float(fused[i] @ fused[j]) == pytest.approx(expected, abs=1e-5)
    assert np.allclose(fusion.fuse(vectors), fused, atol=1e-6)


def test_member_parts_equal_the_members_own_embeddings(analyzer: FaceAnalyzer, shared: Path) -> None:
    """What lets the evaluation compose fused embeddings from per-member caches."""
    root = shared / "data" / "faces" / EXAMPLES
    paths = [root / "obama.jpg", root / "two_people.jpg"]
    fused = analyzer.embed(paths).vectors
    offset = 0
    for member, dim, scale in zip(analyzer.recognizer.members, analyzer.recognizer.dims, analyzer.recognizer.scales):
        own = FaceAnalyzer(detector="yunet", recognizer=member).embed(paths).vectors
        assert np.allclose(fused[:, offset:offset + dim] / scale, own, atol=1e-5), member
        offset += dim


def test_verify_and_own_calibration(analyzer: FaceAnalyzer, shared: Path) -> None:
    root = shared / "data" / "faces" / EXAMPLES
    calibration = load_calibration(FUSION)
    assert calibration.recognizer == FUSION and calibration.impostor_pairs > 80_000_000
    same = analyzer.verify(root / "obama.jpg", root / "obama2.jpg")
    different = analyzer.verify(root / "obama.jpg", root / "biden.jpg")
    assert same.same and not different.same
    assert same.threshold == pytest.approx(calibration.threshold_at(1e-3))


def test_missing_member_embedding_is_a_typed_error(analyzer: FaceAnalyzer) -> None:
    fusion = analyzer.recognizer
    unit = np.ones((1, 512), np.float32) / np.sqrt(512)
    with pytest.raises(MissingEmbeddingError, match="reid-0095"):
        fusion.fuse({"edgeface-xs": unit})
    with pytest.raises(MissingEmbeddingError, match="reid-0095"):
        fusion.fuse({"edgeface-xs": unit, "reid-0095": None})
    with pytest.raises(MissingEmbeddingError, match="256"):
        fusion.fuse({"edgeface-xs": unit, "reid-0095": unit})


@pytest.mark.parametrize("name", ["fusion:edgeface-xs", "fusion:edgeface-xs+edgeface-xs", "fusion:edgeface-xs+",
                                  "fusion:edgeface-xs+no-such-model"])
def test_bad_fusion_names_are_config_errors(name: str) -> None:
    with pytest.raises(ConfigError):
        FaceAnalyzer(detector="yunet", recognizer=name)


def test_member_without_impostor_statistics_is_refused() -> None:
    # mobilefacenet's calibration predates the recorded impostor statistics.
    with pytest.raises(ConfigError, match="impostor score statistics"):
        RECOGNIZERS.create("fusion:edgeface-xs+mobilefacenet")


def test_gallery_search_with_a_fused_recognizer(analyzer: FaceAnalyzer, shared: Path, tmp_path: Path) -> None:
    from facetrust.gallery import Gallery

    root = shared / "data" / "faces" / EXAMPLES
    gallery = Gallery.create(tmp_path / "fused.db", analyzer=analyzer)
    assert gallery.model.name == FUSION and gallery.model.dim == 768
    gallery.enroll("obama", [root / "obama.jpg"])
    gallery.enroll("biden", [root / "biden.jpg"])
    result = gallery.search(root / "obama2.jpg", k=2)
    assert [m.identity_id for m in result.matches][0] == "obama"
    assert result.matches[0].score >= result.threshold > result.matches[1].score
