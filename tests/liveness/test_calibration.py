"""Fusion/calibration fitting: the logistic fit against scikit-learn, the JSON file, and its use."""
from __future__ import annotations

import math

import numpy as np
import pytest

from facetrust.errors import ConfigError
from facetrust.liveness import LivenessChecker
from facetrust.liveness.calibration import LivenessCalibration, fit_calibration, fit_logistic, log_odds


def test_logistic_fit_matches_scikit_learn():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    y = (x @ np.array([1.5, -0.7]) + 0.3 + rng.logistic(size=200)) > 0
    weights, bias = fit_logistic(x, y, l2=2.0)
    peer = LogisticRegression(C=1 / 2.0, tol=1e-10, max_iter=1000).fit(x, y)
    np.testing.assert_allclose(weights, peer.coef_[0], atol=1e-5)
    assert bias == pytest.approx(peer.intercept_[0], abs=1e-5)


def test_fit_save_load_and_apply_on_real_scores(checker, spoof_dir, shared, tmp_path):
    from facetrust.liveness.evaluation import Presentation, read_labels, score_presentations

    faces = shared / "data" / "faces" / "timesler_facenet-pytorch" / "data" / "test_images"
    live = [Presentation(p, True, "bona fide") for p in sorted(faces.glob("*/1.jpg"))]
    items = read_labels(spoof_dir / "labels.csv") + live
    scored = [s for s in score_presentations(checker, items) if s.score is not None]
    calibration = fit_calibration("minifasnet", [s.model_scores for s in scored],
                                  [s.presentation.bona_fide for s in scored],
                                  [s.presentation.attack_type for s in scored], target_apcer=0.05)
    assert calibration.features == ("minifasnet-v2", "minifasnet-v1se")
    assert len(calibration.notes) == 2  # 1 print and 1 replay attack cannot resolve APCER 5 %
    path = calibration.save(tmp_path / "calibration.json")
    loaded = LivenessCalibration.load(path)
    assert loaded == calibration

    calibrated = LivenessChecker(calibration=path, analyzer=checker.analyzer)
    assert calibrated.threshold == calibration.threshold and calibrated.name == "minifasnet+calibration"
    image = checker.analyzer.load(spoof_dir / "silent_face" / "image_F1.jpg")
    face = checker.analyzer.detect(image)[0]
    result = calibrated.check_face(image, face)
    logits = [log_odds(np.array(result.model_scores[f])) for f in loaded.features]
    z = loaded.bias + float(np.dot(loaded.weights, logits))
    assert result.score == pytest.approx(1 / (1 + math.exp(-z)))
    # APCER <= 5 % on the fitting data with 1 attack per species: every attack is rejected
    assert result.status == "spoof"


def test_bad_calibration_files(tmp_path):
    with pytest.raises(ConfigError, match="no such calibration file"):
        LivenessCalibration.load(tmp_path / "missing.json")
    (tmp_path / "other.json").write_text('{"format": "something else"}')
    with pytest.raises(ConfigError, match="not a liveness calibration"):
        LivenessCalibration.load(tmp_path / "other.json")
    fitted_for_v2 = LivenessCalibration("minifasnet-v2", ("minifasnet-v2",), (1.0,), 0.0, 0.5, 0.05)
    with pytest.raises(ConfigError, match="fitted for liveness model 'minifasnet-v2'"):
        LivenessChecker(calibration=fitted_for_v2)
