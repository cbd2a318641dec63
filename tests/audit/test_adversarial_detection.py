"""PGD against the face detector (ART), on real LFW photos: the torch conversion of the detector's ONNX graph
scores as the deployed detector does, and the attack reports dodging, purification and transfer."""
from __future__ import annotations

import numpy as np
import pytest

from facetrust.analyzer import AnalyzerConfig, FaceAnalyzer
from facetrust.audit.adversarial import detect_faces
from facetrust.audit.adversarial_detection import audit_detection_attack, torch_face_score
from facetrust.audit.robustness import first_per_class, fold_subset
from facetrust.detection import DETECTORS
from facetrust.errors import ConfigError
from facetrust.evaluation.lfw import read_lfw_pairs


@pytest.fixture(scope="module")
def probe(shared):
    pairs = first_per_class(fold_subset(read_lfw_pairs(shared / "data" / "lfw_pairs.txt", shared / "data" / "lfw"),
                                        [1]), 1)
    return pairs[0].path_b


@pytest.mark.parametrize("name", ["yunet", "retinaface"])
def test_the_torch_detector_scores_as_the_deployed_one(name, probe):
    import torch

    analyzer = FaceAnalyzer(AnalyzerConfig(detector=name, recognizer="mobilefacenet"))
    image = analyzer.load(probe)
    deployed = max(d.score for d in analyzer.detector.detect(image))
    with torch.no_grad():
        log_score = torch_face_score(analyzer.detector)(torch.tensor(image.astype(np.float32).transpose(2, 0, 1)[None] / 255))
    assert abs(float(torch.exp(log_score[0])) - deployed) < 1e-4


def test_detector_attack_reports_dodging_purification_and_transfer(probe):
    analyzer = FaceAnalyzer(AnalyzerConfig(detector="yunet", recognizer="mobilefacenet"))
    faces = detect_faces([probe], analyzer, progress=False)
    result = audit_detection_attack([probe], analyzer, (2,), steps=2, faces=faces, progress=False)
    assert result["detector"] == "yunet" and result["attacked"] == 1
    entry = result["attacks"]["detector eps=2"]
    for key in ("dodged_none", "dodged_jpeg75", "dodged_blur1"):
        assert entry[key]["trials"] == 1
    assert entry["transfer retinaface"]["trials"] == result["transfer"]["retinaface"]["found_clean"]


def test_the_default_detector_is_attacked_through_yunet_which_decides_its_faces(probe):
    # yunet-retinaface reports YuNet's boxes and scores; only its landmarks are RetinaFace's.
    analyzer = FaceAnalyzer()
    faces = detect_faces([probe], analyzer, progress=False)
    result = audit_detection_attack([probe], analyzer, (2,), steps=1, transfer=(), faces=faces, progress=False)
    assert result["detector"] == "yunet" and result["attacked"] == 1


def test_a_detector_without_a_torch_conversion_is_refused():
    with pytest.raises(ConfigError, match="cannot be attacked here"):
        torch_face_score(DETECTORS.create("ultraface"))
