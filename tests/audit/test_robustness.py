"""Robustness audit on real LFW pairs (fold 1, first 10 same + 10 different) with YuNet + MobileFaceNet."""
from __future__ import annotations

import numpy as np
import pytest

from facetrust.analyzer import AnalyzerConfig, FaceAnalyzer
from facetrust.audit.robustness import audit_robustness, first_per_class, fold_subset
from facetrust.errors import ConfigError
from facetrust.evaluation.lfw import LFW_FALLBACK_BOX, read_lfw_pairs
from facetrust.perturb import SEVERITY_GRID, parse_perturbation, perturb_face


@pytest.fixture(scope="module")
def pairs(shared):
    every = read_lfw_pairs(shared / "data" / "lfw_pairs.txt", shared / "data" / "lfw")
    return first_per_class(fold_subset(every, [1]), 10)


@pytest.fixture(scope="module")
def face(shared):
    analyzer = FaceAnalyzer(detector="yunet", recognizer="mobilefacenet")
    image = analyzer.load(shared / "data" / "lfw" / "Aaron_Eckhart" / "Aaron_Eckhart_0001.jpg")
    return image, analyzer.detect_rgb(image)[0]


def test_every_perturbation_keeps_the_image_shape_and_changes_it_more_with_severity(face):
    image, detection = face
    for kind, values in SEVERITY_GRID.items():
        changes = []
        for value in values:
            out = perturb_face(image, kind, value, detection.landmarks)
            assert out.shape == image.shape and out.dtype == np.uint8
            changes.append(np.abs(out.astype(int) - image).mean())
        assert changes[-1] > changes[0] > 0, kind


def test_occlusions_cover_the_eyes_and_the_mouth(face):
    image, detection = face
    eyes = detection.landmarks[:2].mean(axis=0).round().astype(int)
    mouth = detection.landmarks[3:5].mean(axis=0).round().astype(int)
    assert (perturb_face(image, "sunglasses", 0.3, detection.landmarks)[eyes[1], eyes[0]] == 0).all()
    assert (perturb_face(image, "mask", 0.0, detection.landmarks)[mouth[1] + 2, mouth[0]] == 200).all()
    with pytest.raises(ConfigError, match="landmarks"):
        perturb_face(image, "mask", 0.5, None)
    with pytest.raises(ConfigError, match="unknown perturbation"):
        perturb_face(image, "fog", 1, None)
    assert parse_perturbation("motion_blur:9")(image).shape == image.shape


def test_robustness_audit_on_real_pairs(pairs):
    assert len(pairs) == 20 and sum(p.same for p in pairs) == 10
    analyzer = FaceAnalyzer(AnalyzerConfig(detector="yunet", recognizer="mobilefacenet", fallback_box=LFW_FALLBACK_BOX))
    threshold = analyzer.threshold(1e-3)
    result = audit_robustness(pairs, analyzer, threshold, {"blur": (1, 6), "sunglasses": (0.9,)}, progress=False)
    assert result["pairs"] == 20 and result["left_out"] == 0 and result["threshold"] == threshold
    assert set(result["perturbations"]) == {"blur", "sunglasses"}
    assert [level["severity"] for level in result["perturbations"]["blur"]] == [1, 6]
    clean = result["clean"]
    assert clean["accuracy"] >= 0.9 and clean["tar_at_threshold"] >= 0.9
    heavy = result["perturbations"]["blur"][-1]
    assert heavy["tar_at_threshold"] < clean["tar_at_threshold"]  # sigma 6 px wipes out detail at 250x250


def test_fold_subset_rejects_unknown_folds(shared):
    every = read_lfw_pairs(shared / "data" / "lfw_pairs.txt", shared / "data" / "lfw")
    with pytest.raises(ConfigError, match="no pairs in folds"):
        fold_subset(every, [11])


def test_a_resumed_robustness_audit_comes_from_the_cache(pairs, tmp_path):
    from facetrust.audit.cache import RobustnessCache

    analyzer = FaceAnalyzer(AnalyzerConfig(detector="yunet", recognizer="mobilefacenet", fallback_box=LFW_FALLBACK_BOX))
    subset, grid = first_per_class(pairs, 3), {"jpeg": (5,)}
    with RobustnessCache(tmp_path / "robustness.sqlite") as cache:
        first = audit_robustness(subset, analyzer, 0.35, grid, progress=False, cache=cache)
        again = audit_robustness(subset, analyzer, 0.35, grid, progress=False, cache=cache)
    probes, enrolled = first["probes"], len({p.path_a for p in subset})
    assert first["timing"]["crops_embedded"] == first["timing"]["crops"] == enrolled + 2 * probes
    assert again["timing"]["crops_embedded"] == 0 and again["timing"]["crops_from_cache"] == first["timing"]["crops"]
    assert {k: v for k, v in again.items() if k != "timing"} == {k: v for k, v in first.items() if k != "timing"}
    assert set(first["timing"]["stages_s"]) >= {"detection", "perturbation", "alignment", "embedding"}
