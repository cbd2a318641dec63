"""Image cues (moire, lbp-colour, minifasnet+cues) on the real spoof samples, and their bad inputs."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from facetrust.errors import FaceNotFoundError
from facetrust.liveness import LIVENESS_MODELS, LivenessChecker, LivenessModel
from facetrust.liveness.calibration import LivenessCalibration, fit_presentations
from facetrust.liveness.evaluation import read_labels
from facetrust.liveness.frequency import frequency_features
from facetrust.liveness.texture import uniform_lbp

# Measured with YuNet boxes (docs/liveness.md, "Frequency / moiré").
MOIRE = {"image_F1.jpg": (0.0759, 0.0), "image_F2.jpg": (0.0412, 0.0), "image_T1.jpg": (0.0699, 0.0700)}


@pytest.fixture(scope="module")
def moire(shared):
    return LivenessChecker(model="moire")


@pytest.fixture(scope="module")
def spoof_images(moire, spoof_dir):
    return {name: moire.analyzer.load(spoof_dir / "silent_face" / name) for name in MOIRE}


def test_cues_are_registered_liveness_models():
    for name in ("moire", "lbp-colour", "minifasnet+cues"):
        assert name in LIVENESS_MODELS.names()
        assert isinstance(LIVENESS_MODELS.create(name), LivenessModel)


def test_moire_features_of_the_spoof_samples(moire, spoof_images):
    for name, (hf, peak) in MOIRE.items():
        result = moire.check_rgb(spoof_images[name])[0].result
        # No fitted calibration: no decision, but the measured features are reported.
        assert result.status == "unavailable" and result.score is None and "not fitted" in result.reason
        assert result.reason_code == "not_fitted"
        assert result.model_scores["moire_hf_share"] == pytest.approx(hf, abs=2e-3)
        assert result.model_scores["moire_peak_share"] == pytest.approx(peak, abs=2e-3)


def test_a_periodic_pattern_is_found_as_spectral_peaks(spoof_images, moire):
    face = moire.check_rgb(spoof_images["image_F2.jpg"])[0].face
    from facetrust.liveness.crop import face_patch

    gray = cv2.cvtColor(face_patch(spoof_images["image_F2.jpg"], face.box, 128), cv2.COLOR_RGB2GRAY).astype(float)
    y, x = np.mgrid[:128, :128]
    grating = gray + 12 * np.sin(2 * np.pi * (0.31 * x + 0.12 * y))  # a moiré-like beat at 0.33 cycles/px
    assert frequency_features(gray)["moire_peak_share"] == 0.0
    assert frequency_features(grating)["moire_peak_share"] > 0.2
    assert frequency_features(np.full((128, 128), 90.0)) == {"moire_hf_share": 0.0, "moire_peak_share": 0.0}


def test_uniform_lbp_codes_computed_by_hand():
    # Neighbours clockwise from the top-left; a bit is set when the neighbour >= the centre.
    spot = np.array([[0, 0, 0], [0, 5, 0], [0, 0, 0]])  # no neighbour >= centre: uniform, 0 bits
    edge = np.array([[9, 9, 9], [0, 5, 0], [0, 0, 0]])  # top row set: uniform, 3 bits
    checker = np.array([[9, 0, 9], [0, 5, 0], [9, 0, 9]])  # 4 bits in 8 transitions: non-uniform -> 9
    flat = np.full((3, 3), 7)  # every neighbour equal: all 8 bits
    assert [int(uniform_lbp(p)[0, 0]) for p in (spot, edge, checker, flat)] == [0, 3, 9, 8]


def test_lbp_colour_features_are_six_histograms(shared, spoof_images):
    result = LivenessChecker(model="lbp-colour").check_rgb(spoof_images["image_T1.jpg"])[0].result
    assert result.status == "unavailable" and len(result.model_scores) == 60
    for prefix in ("lbp_ycrcb_y", "lbp_ycrcb_cr", "lbp_ycrcb_cb", "lbp_hsv_h", "lbp_hsv_s", "lbp_hsv_v"):
        bins = [v for k, v in result.model_scores.items() if k.startswith(prefix + "_")]
        assert len(bins) == 10 and sum(bins) == pytest.approx(1.0)


def test_fit_turns_cue_features_into_decisions(shared, spoof_dir, tmp_path):
    # Fitted on the 3 samples only to exercise the code path; such a fit is never shipped.
    checker = LivenessChecker(model="lbp-colour")
    calibration = fit_presentations(checker, read_labels(spoof_dir / "labels.csv"))
    assert calibration.model == "lbp-colour" and len(calibration.features) == 60
    assert calibration.fitted_on["n_attacks"] == 2 and calibration.fitted_on["n_bona_fide"] == 1
    fitted = LivenessChecker(model="lbp-colour", calibration=LivenessCalibration.load(calibration.save(tmp_path / "c.json")))
    results = {p.path.name: fitted.check(p.path)[0].result for p in read_labels(spoof_dir / "labels.csv")}
    assert results["image_F1.jpg"].status == results["image_F2.jpg"].status == "spoof"
    # The fitted threshold lies halfway between the higher attack and the live sample, so the
    # live sample stays live when the calibration is reapplied.
    assert results["image_T1.jpg"].status == "live"
    assert max(results["image_F1.jpg"].score, results["image_F2.jpg"].score) < calibration.threshold \
        < results["image_T1.jpg"].score


def test_fusion_without_fit_is_minifasnet_with_the_cue_beside_it(checker, spoof_images):
    fused = LivenessChecker(model="minifasnet+cues")
    for name, (hf, _) in MOIRE.items():
        plain = checker.check_rgb(spoof_images[name])[0].result
        result = fused.check_rgb(spoof_images[name])[0].result
        assert result.score == pytest.approx(plain.score) and result.status == plain.status
        assert set(result.model_scores) == {"minifasnet-v2", "minifasnet-v1se", "moire_hf_share", "moire_peak_share"}
        assert result.model_scores["moire_hf_share"] == pytest.approx(hf, abs=2e-3)


def test_bad_input_is_unavailable_with_a_reason(moire, spoof_images):
    live = spoof_images["image_T1.jpg"]
    gray = np.repeat(cv2.cvtColor(live, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)
    assert "grayscale" in moire.check_rgb(gray)[0].result.reason
    box = moire.check_rgb(live)[0].face.box
    assert moire.check_face(live, tuple(v / 8 for v in box)).reason.startswith("face too small")
    blank = np.full((240, 320, 3), 128, dtype=np.uint8)
    assert moire.check_rgb(blank) == []
    with pytest.raises(FaceNotFoundError):
        moire.check(blank)
