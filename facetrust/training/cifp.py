"""CIFP (Xu et al., CVPR 2021, "Consistent Instance False Positive Improves Fairness in Face
Recognition"): an add-on to any margin head that penalises an instance's impostor logits above a
cosine threshold ``t`` in proportion to that instance's false-positive rate, so that no instance
(and thus no demographic group) keeps many more false positives than the batch average.

For instance i with false-positive rate FPR_i = #{j != y_i : cos_ij > t} / (C - 1) and the batch
mean FPR, every impostor term with cos_ij > t is multiplied by 1 + lambda * FPR_i / mean FPR inside
the softmax's denominator, i.e. its logit gains log(1 + lambda * FPR_i / mean FPR)."""
from __future__ import annotations

import torch


def cifp_logits(logits: torch.Tensor, cosine: torch.Tensor, labels: torch.Tensor,
                weight: float, threshold: float) -> torch.Tensor:
    """``logits`` with the CIFP penalty added to impostor entries above ``threshold``."""
    if weight == 0:
        return logits
    with torch.no_grad():
        impostor = torch.ones_like(cosine, dtype=torch.bool)
        impostor[torch.arange(len(labels), device=cosine.device), labels] = False
        false_positive = impostor & (cosine > threshold)
        rate = false_positive.sum(1).float() / max(cosine.shape[1] - 1, 1)
        mean_rate = rate.mean()
        ratio = rate / mean_rate if mean_rate > 0 else torch.zeros_like(rate)
        penalty = torch.log1p(weight * ratio)[:, None] * false_positive
    return logits + penalty
