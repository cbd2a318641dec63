"""Expression (mini-Xception run in numpy) and eye state on labelled real images."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from facetrust.attributes import AttributeEstimator


def test_expression_separates_smiling_from_not_smiling_on_lfw(shared):
    """20 LFW-a images (grayscale: fine for this grey model) that Kumar et al.'s attribute
    classifier scores clearly smiling (> 1.5) or clearly not (< -1.5)."""
    from facetrust.analyzer import FaceAnalyzer
    from facetrust.evaluation.lfw import LFW_FALLBACK_BOX
    from facetrust.evaluation.metrics import auc

    with (shared / "data/lfw_demographics/kumar_attributes_subset.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    smiling = [r["file"] for r in rows if float(r["Smiling"]) > 1.5][:10]
    plain = [r["file"] for r in rows if float(r["Smiling"]) < -1.5][:10]
    analyzer = FaceAnalyzer(fallback_box=LFW_FALLBACK_BOX)
    estimator = AttributeEstimator(("expression", "gender"))
    happy = []
    for name in smiling + plain:
        image = analyzer.load(shared / "data/lfw" / name)
        (result,) = estimator.estimate(image, [analyzer.detect_rgb(image)[0].box])
        assert result["gender"]["status"] == "unavailable"  # LFW-a is grayscale
        probabilities = result["expression"]["probabilities"]
        assert len(probabilities) == 7 and sum(probabilities.values()) == pytest.approx(1, abs=1e-3)
        happy.append(probabilities["happy"])
    assert auc(np.array(happy), np.array([True] * len(smiling) + [False] * len(plain))) >= 0.9


def test_eyes_closed_in_a_real_blink_and_open_before(shared):
    """DFDC clip abqwwspghj: eyes open at frame 60, shut at frame 76 (the blink checked by eye, docs/liveness.md)."""
    from facetrust.analyzer import FaceAnalyzer
    from facetrust.io.video import read_frames

    analyzer = FaceAnalyzer(detector="yunet")
    estimator = AttributeEstimator(("eyes",))
    states = {}
    for frame in read_frames(shared / "data/deepfake/aaronchong888/videos/abqwwspghj.mp4", every_seconds=0,
                             max_frames=77):
        if frame.index in (60, 76):
            image = np.ascontiguousarray(frame.image[:, 600:1400])
            (result,) = estimator.estimate(image, [analyzer.detect_rgb(image)[0].box])
            states[frame.index] = [result["eyes"][eye]["open"] for eye in ("left", "right")]
    assert states[60] == [True, True]
    assert True not in states[76] and False in states[76]  # closed, or unknown: never "open"
