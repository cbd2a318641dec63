"""``facetrust audit`` through the real CLI (subprocess)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "facetrust.cli.main", "audit", *args], capture_output=True, text=True)


def test_fairness_report(labels_subset, shared, audit_cache, tmp_path):
    out = _cli("fairness", "--root", str(shared / "data" / "lfw"), "--groups", str(labels_subset),
               "--group-column", "gender_afifi", "-d", "yunet", "-r", "mobilefacenet", "--fmr", "0.01",
               "--cache", str(audit_cache), "-w", "1", "--centre-fallback", "--report", str(tmp_path / "report"), "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["metrics"]["yunet+mobilefacenet"]["images"] == 81
    for name in ("report.html", "report.md", "report.json", "fairness_identity_lorenz.png",
                 "fairness_fmr_gender_afifi_yunet_mobilefacenet.png"):
        assert (tmp_path / "report" / name).stat().st_size > 0
    assert "worst identities (yunet+mobilefacenet)" in (tmp_path / "report" / "report.md").read_text().lower()


def test_unknown_files_fail_with_one_line(labels_subset, shared, tmp_path):
    broken = tmp_path / "broken.csv"
    broken.write_text(labels_subset.read_text() + "Nobody/Nobody_0001.jpg,Nobody,M,,,\n")
    out = _cli("fairness", "--root", str(shared / "data" / "lfw"), "--groups", str(broken))
    assert out.returncode != 0
    assert len(out.stderr.strip().splitlines()) == 1 and "not found" in out.stderr


def test_robustness_report(shared, tmp_path):
    out = _cli("robustness", "--root", str(shared / "data" / "lfw"), "--pairs", str(shared / "data" / "lfw_pairs.txt"),
               "--fold", "1", "--per-class", "5", "--perturbation", "jpeg", "-d", "yunet", "-r", "mobilefacenet",
               "--cache", str(tmp_path / "robustness.sqlite"), "--report", str(tmp_path / "report"), "--json")
    assert out.returncode == 0, out.stderr
    metrics = json.loads(out.stdout)["metrics"]["yunet+mobilefacenet"]
    assert metrics["pairs"] == 10 and list(metrics["jpeg"]) == ["50", "30", "20", "10", "5"]
    assert (tmp_path / "report" / "robustness_accuracy_yunet_mobilefacenet.png").stat().st_size > 0


def test_robustness_report_per_group(shared, tmp_path):
    out = _cli("robustness", "--root", str(shared / "data" / "lfw"), "--pairs", str(shared / "data" / "lfw_pairs.txt"),
               "--fold", "1", "--per-class", "5", "--perturbation", "jpeg", "-d", "yunet", "-r", "mobilefacenet",
               "--groups", str(shared / "data" / "lfw_demographics" / "labels.csv"), "--group-column", "gender_afifi",
               "--cache", str(tmp_path / "robustness.sqlite"), "--report", str(tmp_path / "report"), "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    summary = result["metrics"]["yunet+mobilefacenet"]["jpeg"]["5"]["groups"]["gender_afifi"]
    assert set(summary) >= {"groups_compared", "fnmr_max_minus_min", "highest_fnmr_group"}
    per_group = result["gender_afifi groups (yunet+mobilefacenet)"]
    assert list(per_group)[:2] == ["clean", "jpeg 50"] and sum(e["genuine_pairs"] for e in per_group["clean"].values()) == 5
    assert (tmp_path / "report" / "robustness_fnmr_gap_gender_afifi_yunet_mobilefacenet.png").stat().st_size > 0


@pytest.mark.parametrize("args, message", [
    (["--group-column", "gender_afifi"], "--group-column needs --groups"),
    (["--groups", "LABELS", "--group-column", "hair"], "no column 'hair'"),
    (["--groups", "LABELS", "--group-column", "file"], "'file' and 'identity' are not group columns"),
])
def test_robustness_bad_group_options_fail_with_one_line(shared, args, message):
    labels = str(shared / "data" / "lfw_demographics" / "labels.csv")
    out = _cli("robustness", "--root", str(shared / "data" / "lfw"), "--pairs", str(shared / "data" / "lfw_pairs.txt"),
               *[labels if a == "LABELS" else a for a in args])
    assert out.returncode != 0
    assert len(out.stderr.strip().splitlines()) == 1 and message in out.stderr


def test_unknown_perturbation_fails_with_one_line(shared):
    out = _cli("robustness", "--root", str(shared / "data" / "lfw"), "--pairs", str(shared / "data" / "lfw_pairs.txt"),
               "--perturbation", "fog")
    assert out.returncode != 0
    assert len(out.stderr.strip().splitlines()) == 1 and "unknown perturbation fog" in out.stderr


def test_adversarial_on_dlib_fails_with_one_line(shared):
    out = _cli("adversarial", "--root", str(shared / "data" / "lfw"), "--pairs", str(shared / "data" / "lfw_pairs.txt"),
               "-r", "dlib-resnet")
    assert out.returncode != 0
    assert len(out.stderr.strip().splitlines()) == 1 and "not differentiable" in out.stderr


def test_adversarial_unknown_attack_fails_with_one_line(shared):
    out = _cli("adversarial", "--root", str(shared / "data" / "lfw"), "--pairs", str(shared / "data" / "lfw_pairs.txt"),
               "-r", "mobilefacenet", "--attack", "cw")
    assert out.returncode != 0
    assert len(out.stderr.strip().splitlines()) == 1 and "unknown attack 'cw'" in out.stderr


def test_adversarial_report(shared, tmp_path):
    out = _cli("adversarial", "--root", str(shared / "data" / "lfw"), "--pairs", str(shared / "data" / "lfw_pairs.txt"),
               "--fold", "1", "--per-class", "1", "-d", "yunet", "-r", "mobilefacenet", "--attack", "fgsm", "--eps", "8",
               "--transfer", "edgeface-xs", "--no-checks", "--report", str(tmp_path / "report"), "--json")
    assert out.returncode == 0, out.stderr
    metrics = json.loads(out.stdout)["metrics"]["yunet+mobilefacenet"]
    assert metrics["attacks"]["fgsm eps=8"]["dodging_none"]["trials"] == 1
    assert "clean_flagged" in metrics and not metrics["clean_flagged"]  # checks skipped, said so by an empty entry
    assert (tmp_path / "report" / "adversarial_fgsm_yunet_mobilefacenet.png").stat().st_size > 0
    assert "transfer edgeface-xs dodging" in (tmp_path / "report" / "report.md").read_text()


COLOUR_PAIRS = Path(__file__).parent / "data" / "colour_pairs.csv"


def test_adversarial_on_colour_pairs_lets_liveness_score_the_clean_photos(shared, tmp_path):
    out = _cli("adversarial", "--root", str(shared / "data" / "faces"), "--pairs-csv", str(COLOUR_PAIRS),
               "--per-class", "1", "-d", "yunet", "-r", "mobilefacenet", "--attack", "fgsm", "--eps", "1",
               "--no-transfer", "--cache", str(tmp_path / "cache"), "--json")
    assert out.returncode == 0, out.stderr
    metrics = json.loads(out.stdout)["metrics"]["yunet+mobilefacenet"]
    attacked = metrics["dodging_pairs"] + metrics["impersonation_pairs"]
    assert attacked >= 1
    # Colour photos: unlike grey LFW-a, liveness scores every clean and attacked probe.
    assert metrics["clean_flagged"]["liveness"]["trials"] == attacked
    assert metrics["check_scores"]["fgsm eps=1"]["liveness"]["scored_both"] == attacked
    assert any(path.suffix == ".npz" for path in (tmp_path / "cache").iterdir())


def test_adversarial_with_two_pair_lists_fails_with_one_line(shared):
    out = _cli("adversarial", "--root", str(shared / "data" / "faces"), "--pairs", str(shared / "data" / "lfw_pairs.txt"),
               "--pairs-csv", str(COLOUR_PAIRS), "-r", "mobilefacenet")
    assert out.returncode != 0
    assert len(out.stderr.strip().splitlines()) == 1 and "either --pairs" in out.stderr


def test_adversarial_pair_list_errors_are_one_line(shared):
    lfw = ("--root", str(shared / "data" / "lfw"), "-r", "mobilefacenet")
    for args, message in (((), "either --pairs"),
                          (("--pairs-csv", str(COLOUR_PAIRS), "--fold", "1"), "--fold applies to --pairs"),
                          (("--pairs-csv", str(COLOUR_PAIRS), "--eps", "-5"), "must lie in (0, 255]; got -5"),
                          (("--pairs-csv", str(COLOUR_PAIRS), "--eye-eps", "300"), "got 300")):
        out = _cli("adversarial", *lfw, *args)
        assert out.returncode != 0
        assert len(out.stderr.strip().splitlines()) == 1 and message in out.stderr


def test_check_robustness_report(shared, tmp_path):
    out = _cli("check-robustness", str(shared / "data" / "spoof" / "silent_face"), "--check", "liveness",
               "--perturbation", "sunglasses", "--cache", str(tmp_path / "robustness.sqlite"),
               "--report", str(tmp_path / "report"), "--json")
    assert out.returncode == 0, out.stderr
    metrics = json.loads(out.stdout)["metrics"]["liveness"]
    assert metrics["images"] == 3 and list(metrics["sunglasses"]) == ["0.3", "0.45", "0.6", "0.75", "0.9"]
    assert (tmp_path / "report" / "check_flip_rate_liveness.png").stat().st_size > 0


def test_unknown_check_fails_with_one_line(shared):
    out = _cli("check-robustness", str(shared / "data" / "spoof" / "silent_face"), "--check", "age")
    assert out.returncode != 0
    assert len(out.stderr.strip().splitlines()) == 1 and "unknown check age" in out.stderr
