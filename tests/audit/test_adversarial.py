"""White-box attacks (ART) on MobileFaceNet photos, measured with the deployed ONNX recognizer, transferred to
another recognizer and shown to the quality / liveness / forgery checks, on real LFW pairs."""
from __future__ import annotations

import numpy as np
import pytest

from facetrust.analyzer import AnalyzerConfig, FaceAnalyzer
from facetrust.audit.adversarial import (CHECKS, PhotoAttacker, _score_shift, audit_adversarial, detect_faces, eye_mask,
                                         face_mask, alignment_matrix, sampling_grid, torch_recognizer, wilson)
from facetrust.audit.robustness import first_per_class, fold_subset
from facetrust.errors import ConfigError
from facetrust.evaluation.lfw import LFW_FALLBACK_BOX, read_lfw_pairs


@pytest.fixture(scope="module")
def analyzer():
    return FaceAnalyzer(AnalyzerConfig(detector="yunet", recognizer="mobilefacenet", fallback_box=LFW_FALLBACK_BOX))


@pytest.fixture(scope="module")
def one_pair_each(shared):
    return first_per_class(fold_subset(read_lfw_pairs(shared / "data" / "lfw_pairs.txt", shared / "data" / "lfw"),
                                       [1]), 1)


def test_the_torch_pipeline_sees_what_the_deployed_recognizer_sees(analyzer, one_pair_each):
    import torch

    path = one_pair_each[0].path_b
    face = detect_faces([path], analyzer, progress=False)[path]
    matrix = alignment_matrix(face.detection.landmarks)
    grid = torch.tensor(sampling_grid(matrix, face.image.shape)[None])
    photo = torch.tensor(face.image.astype(np.float32).transpose(2, 0, 1)[None] / 255.0)
    crop = torch.nn.functional.grid_sample(photo, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    with torch.no_grad():
        mine = torch_recognizer(analyzer.recognizer)(crop)[0].numpy()
    deployed = analyzer.recognizer.embed_aligned([analyzer.recognizer.align(face.image, face.detection)])[0]
    assert float(mine @ deployed) > 0.99
    # Every pixel the warp reads lies in the face mask; the mask is a minority of a 250x250 LFW photo.
    assert 0.05 < face_mask(matrix, face.image.shape).mean() < 0.6


def test_the_eye_attack_changes_only_the_eye_band(analyzer, one_pair_each):
    impostor = one_pair_each[1]
    faces = detect_faces([impostor.path_a, impostor.path_b], analyzer, progress=False)
    probe, enrolled = faces[impostor.path_b], faces[impostor.path_a]
    target = analyzer.recognizer.embed_aligned([analyzer.recognizer.align(enrolled.image, enrolled.detection)])
    attacker = PhotoAttacker(analyzer.recognizer, analyzer.threshold(1e-3))
    adversarial = attacker.attack([probe.image], [probe.detection], target, "eyes", 255, same=False,
                                 steps=3)[0]
    band = eye_mask(probe.detection.landmarks, probe.image.shape)
    changed = np.any(adversarial != probe.image, axis=2)
    assert changed.any() and not changed[~band].any()
    assert 0.01 < band.mean() < 0.15  # a band over the eyes, not the face


def test_dodging_and_impersonation_with_transfer_and_checks(analyzer, one_pair_each, tmp_path):
    result = audit_adversarial(one_pair_each, analyzer, 1e-3, ("fgsm", "eyes"), (8,), (255,), transfer=("edgeface-xs",),
                               steps=3, cache=tmp_path / "cache", progress=False)
    assert result["dodging_pairs"] == 1 and result["impersonation_pairs"] == 1  # both decided right when clean
    assert result["transfer"]["edgeface-xs"]["threshold"] == FaceAnalyzer(recognizer="edgeface-xs").threshold(1e-3)
    fgsm = result["attacks"]["fgsm eps=8"]
    assert fgsm["dodging_none"]["rate"] == 1.0 and fgsm["impersonation_none"]["rate"] == 1.0
    for name in ("fgsm eps=8", "eyes eps=255"):
        entry = result["attacks"][name]
        for goal in ("dodging", "impersonation"):
            transferred = entry[f"transfer edgeface-xs {goal}"]
            assert transferred["trials"] == result["transfer"]["edgeface-xs"][f"{goal}_pairs"]
            for purification in ("none", "jpeg75", "blur1"):
                assert entry[f"{goal}_{purification}"]["trials"] == 1
        for check in CHECKS:  # one attacked photo per goal, each scored or counted as unavailable
            flagged = entry[f"flagged {check}"]
            assert flagged["trials"] + flagged.get("unavailable", 0) == 2
    for check in CHECKS:
        clean = result["clean_flagged"][check]
        assert clean["trials"] + clean.get("unavailable", 0) == 2
        for name in ("fgsm eps=8", "eyes eps=255"):  # per photo, clean vs attacked score of each check
            shift = result["check_scores"][name][check]
            assert shift["photos"] == 2 and shift["decision_changed"]["trials"] <= shift["photos"]
    assert result["check_scores"]["fgsm eps=8"]["quality"]["scored_both"] == 2  # quality scores grey photos
    assert result["timing"]["probes_attacked"] == 4 and result["timing"]["probes_from_cache"] == 0

    # A rerun re-reads every attacked batch and its measurements from the cache: the same numbers, no attack.
    again = audit_adversarial(one_pair_each, analyzer, 1e-3, ("fgsm", "eyes"), (8,), (255,), transfer=("edgeface-xs",),
                              steps=3, cache=tmp_path / "cache", progress=False)
    assert again["timing"]["probes_attacked"] == 0 and again["timing"]["probes_from_cache"] == 4
    assert {k: v for k, v in again.items() if k != "timing"} == {k: v for k, v in result.items() if k != "timing"}


def test_an_interrupted_grid_resumes_from_the_cache(analyzer, one_pair_each, tmp_path):
    cache = tmp_path / "cache"
    first = audit_adversarial(one_pair_each, analyzer, 1e-3, ("fgsm",), (8,), transfer=(), checks=False, cache=cache,
                              progress=False)
    # The grid grows (or a run stopped after FGSM is restarted): FGSM comes from the cache, only PGD is attacked.
    grown = audit_adversarial(one_pair_each, analyzer, 1e-3, ("fgsm", "pgd"), (8,), transfer=(), checks=False,
                              steps=2, cache=cache, progress=False)
    assert grown["timing"]["probes_from_cache"] == 2 and grown["timing"]["probes_attacked"] == 2
    assert grown["attacks"]["fgsm eps=8"] == first["attacks"]["fgsm eps=8"]
    # Stopped after the attacked photos were saved but before they were measured: measured again, not re-attacked.
    for measures in cache.glob("*.json"):
        measures.unlink()
    again = audit_adversarial(one_pair_each, analyzer, 1e-3, ("fgsm", "pgd"), (8,), transfer=(), checks=False,
                              steps=2, cache=cache, progress=False)
    assert again["timing"]["probes_attacked"] == 0 and again["timing"]["probes_from_cache"] == 4
    assert again["attacks"] == grown["attacks"]
    # A different step count is a different attack: not read from the PGD entries of 2 steps.
    other = audit_adversarial(one_pair_each, analyzer, 1e-3, ("pgd",), (8,), transfer=(), checks=False, steps=1,
                              cache=cache, progress=False)
    assert other["timing"]["probes_attacked"] == 2


def test_the_detector_attack_runs_inside_the_audit_and_is_cached(analyzer, one_pair_each, tmp_path):
    result = audit_adversarial(one_pair_each, analyzer, 1e-3, ("detector",), (2,), transfer=(), checks=False, steps=1,
                               cache=tmp_path / "cache", progress=False)
    detection = result["detection"]
    assert detection["detector"] == "yunet" and detection["attacked"] == 2  # both probes' faces found when clean
    entry = result["attacks"]["detector eps=2"]
    assert entry["dodged_none"]["trials"] == 2 and entry["dodged_jpeg75"]["trials"] == 2
    assert detection["timing"]["photos_attacked"] == 2
    again = audit_adversarial(one_pair_each, analyzer, 1e-3, ("detector",), (2,), transfer=(), checks=False, steps=1,
                              cache=tmp_path / "cache", progress=False)
    assert again["detection"]["timing"]["photos_attacked"] == 0 and again["detection"]["timing"]["photos_from_cache"] == 2
    assert again["attacks"] == result["attacks"]


def test_check_score_shift_summary():
    # (clean flag, clean score, attacked flag, attacked score) per photo; None = the check gave no answer.
    rows = [[False, 0.9, False, 0.7], [False, 0.8, True, 0.2], [None, None, True, 0.1], [True, 0.3, False, 0.5]]
    shift = _score_shift(rows)
    assert shift["photos"] == 4 and shift["scored_both"] == 3
    assert shift["clean_mean"] == round((0.9 + 0.8 + 0.3) / 3, 4)
    assert shift["mean_shift"] == round((-0.2 - 0.6 + 0.2) / 3, 4) and shift["max_abs_shift"] == 0.6
    assert shift["decision_changed"]["successes"] == 2 and shift["decision_changed"]["trials"] == 3
    assert shift["newly_flagged"] == 1 and shift["unflagged"] == 1
    assert _score_shift([[None, None, None, None]])["mean_shift"] is None


def test_wilson_interval():
    assert wilson(0, 0)["rate"] is None
    entry = wilson(10, 20)
    assert entry["rate"] == 0.5 and entry["ci95"] == [0.2993, 0.7007]  # the textbook value for 10 of 20
    assert wilson(25, 25)["ci95"][1] == 1.0 and wilson(25, 25)["ci95"][0] < 1.0


def test_a_non_differentiable_recognizer_is_refused():
    analyzer = FaceAnalyzer(recognizer="dlib-resnet")
    with pytest.raises(ConfigError, match="not differentiable"):
        torch_recognizer(analyzer.recognizer)


def test_an_unknown_attack_is_refused(analyzer, one_pair_each):
    with pytest.raises(ConfigError, match="unknown attack 'cw'; known: fgsm, pgd, eyes, detector"):
        audit_adversarial(one_pair_each, analyzer, 1e-3, ("cw",), progress=False)


def test_attack_budgets_outside_0_255_are_config_errors() -> None:
    from facetrust.audit.adversarial import check_budgets

    check_budgets((1, 8), (16, 255), 1)
    for eps, eye_eps, steps in (((0,), (), 10), ((-5,), (), 10), ((), (256,), 10), ((4,), (16,), 0)):
        with pytest.raises(ConfigError):
            check_budgets(eps, eye_eps, steps)
