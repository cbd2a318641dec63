"""Margin heads and the CIFP add-on against values computed by hand."""
from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from facetrust.errors import ConfigError  # noqa: E402
from facetrust.training.cifp import cifp_logits  # noqa: E402
from facetrust.training.heads import HEADS, create_head  # noqa: E402

COSINE = torch.tensor([[0.8, 0.1, -0.2], [0.3, 0.6, 0.5]])
LABELS = torch.tensor([0, 1])


def test_arcface_without_margin_is_scaled_cosine() -> None:
    assert torch.allclose(create_head("arcface", 64.0, 0.0)(COSINE, LABELS), COSINE * 64)


def test_arcface_adds_the_angle_to_the_target_only() -> None:
    logits = create_head("arcface", 10.0, 0.5)(COSINE, LABELS)
    assert logits[0, 0].item() == pytest.approx(10 * math.cos(math.acos(0.8) + 0.5), abs=1e-5)
    assert logits[1, 1].item() == pytest.approx(10 * math.cos(math.acos(0.6) + 0.5), abs=1e-5)
    assert torch.allclose(logits[0, 1:], COSINE[0, 1:] * 10)


def test_arcface_falls_back_past_pi_minus_m() -> None:
    # theta = acos(-0.95) > pi - 0.5: cos(theta) - m sin(m) keeps the logit decreasing in theta.
    logits = create_head("arcface", 1.0, 0.5)(torch.tensor([[-0.95, 0.0]]), torch.tensor([0]))
    assert logits[0, 0].item() == pytest.approx(-0.95 - math.sin(math.pi - 0.5) * 0.5, abs=1e-6)


def test_cosface_subtracts_m_from_the_target() -> None:
    logits = create_head("cosface", 30.0, 0.35)(COSINE, LABELS)
    expected = COSINE.clone()
    expected[0, 0] -= 0.35
    expected[1, 1] -= 0.35
    assert torch.allclose(logits, expected * 30)


def test_curricularface_reweights_hard_negatives_with_t() -> None:
    head = create_head("curricularface", 1.0, 0.5)
    head.t.fill_(0.2)
    head.eval()  # keep t fixed
    logits = head(COSINE, LABELS)
    margined = math.cos(math.acos(0.6) + 0.5)  # ~0.119: 0.3 and 0.5 in row 1 are harder
    assert logits[1, 1].item() == pytest.approx(margined, abs=1e-5)
    assert logits[1, 0].item() == pytest.approx(0.3 * (0.2 + 0.3), abs=1e-6)
    assert logits[1, 2].item() == pytest.approx(0.5 * (0.2 + 0.5), abs=1e-6)
    assert logits[0, 1].item() == pytest.approx(0.1, abs=1e-6)  # easier than cos(acos(.8)+.5)~0.306


def test_curricularface_t_tracks_the_target_cosines() -> None:
    head = create_head("curricularface", 1.0, 0.5)
    head(COSINE, LABELS)
    assert head.t.item() == pytest.approx(0.01 * 0.7)


def test_adaface_margin_follows_the_norm() -> None:
    head = create_head("adaface", 1.0, 0.4)
    head.eval()
    head.batch_mean.fill_(20.0)
    head.batch_std.fill_(10.0)
    cosine, labels = torch.tensor([[0.5, 0.0], [0.5, 0.0]]), torch.tensor([0, 0])
    logits = head(cosine, labels, torch.tensor([50.0, 20.0]))
    # norm 50: z = clip(0.333 * 3) = 0.999 -> angular margin -0.3996, additive 0.7996
    z = 0.333 * 30 / (10 + 1e-3)
    assert logits[0, 0].item() == pytest.approx(math.cos(math.acos(0.5) - 0.4 * z) - 0.4 * (1 + z), abs=1e-5)
    # norm at the mean: z = 0 -> CosFace with m
    assert logits[1, 0].item() == pytest.approx(0.5 - 0.4, abs=1e-6)
    with pytest.raises(ConfigError):
        head(cosine, labels)


def test_cifp_penalises_impostors_above_the_threshold_per_instance() -> None:
    cosine = torch.tensor([[0.9, 0.5, 0.4, 0.0], [0.9, 0.5, 0.0, 0.0]])
    labels = torch.tensor([0, 0])
    logits = cosine * 10
    out = cifp_logits(logits, cosine, labels, weight=1.0, threshold=0.3)
    # FPR: row 0 = 2/3, row 1 = 1/3, mean 1/2 -> ratios 4/3 and 2/3
    expected = logits.clone()
    expected[0, 1:3] += math.log1p(4 / 3)
    expected[1, 1] += math.log1p(2 / 3)
    assert torch.allclose(out, expected)
    assert torch.equal(cifp_logits(logits, cosine, labels, 0.0, 0.3), logits)


def test_unknown_head_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown margin head"):
        create_head("sphereface2", 64.0, 0.5)
    assert set(HEADS.names()) == {"arcface", "cosface", "curricularface", "adaface"}
