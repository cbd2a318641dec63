"""White-box attacks (ART) on MobileFaceNet, measured with the deployed ONNX recognizer, on real LFW pairs."""
from __future__ import annotations

import pytest

from facetrust.analyzer import AnalyzerConfig, FaceAnalyzer
from facetrust.audit.adversarial import audit_adversarial, torch_recognizer
from facetrust.audit.robustness import first_per_class, fold_subset
from facetrust.errors import ConfigError
from facetrust.evaluation.lfw import LFW_FALLBACK_BOX, read_lfw_pairs


def test_fgsm_dodges_and_impersonates_at_8_over_255(shared):
    pairs = first_per_class(fold_subset(read_lfw_pairs(shared / "data" / "lfw_pairs.txt", shared / "data" / "lfw"),
                                        [1]), 1)
    analyzer = FaceAnalyzer(AnalyzerConfig(detector="yunet", recognizer="mobilefacenet", fallback_box=LFW_FALLBACK_BOX))
    result = audit_adversarial(pairs, analyzer, analyzer.threshold(1e-3), ("fgsm",), (1, 8), progress=False)
    assert result["dodging_pairs"] == 1 and result["impersonation_pairs"] == 1  # both decided right when clean
    weak, strong = result["attacks"]["fgsm eps=1"], result["attacks"]["fgsm eps=8"]
    assert set(strong) == {f"{goal}_{p}" for goal in ("dodging", "impersonation") for p in ("none", "jpeg75", "blur1")}
    assert strong["dodging_none"] == 1.0 and strong["impersonation_none"] == 1.0
    assert weak["dodging_none"] <= strong["dodging_none"]


def test_a_non_differentiable_recognizer_is_refused(shared):
    analyzer = FaceAnalyzer(recognizer="dlib-resnet")
    with pytest.raises(ConfigError, match="not differentiable"):
        torch_recognizer(analyzer.recognizer)
