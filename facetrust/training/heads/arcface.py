"""ArcFace (Deng et al., CVPR 2019): target logit s * cos(theta_y + m)."""
from __future__ import annotations

import math

import torch
from torch import nn


def angular_target(target: torch.Tensor, margin: float) -> torch.Tensor:
    """cos(theta + m), continued as cos(theta) - m sin(m) past theta = pi - m, where cos(theta + m)
    stops decreasing (insightface's fallback: keeps the target logit monotonic in theta)."""
    sin = torch.sqrt((1.0 - target * target).clamp_min(0.0))
    with_margin = target * math.cos(margin) - sin * math.sin(margin)
    return torch.where(target > math.cos(math.pi - margin), with_margin, target - math.sin(math.pi - margin) * margin)


class ArcFace(nn.Module):
    def __init__(self, scale: float = 64.0, margin: float = 0.5) -> None:
        super().__init__()
        self.scale, self.margin = scale, margin

    def forward(self, cosine: torch.Tensor, labels: torch.Tensor, norms: torch.Tensor | None = None) -> torch.Tensor:
        rows = torch.arange(len(labels), device=cosine.device)
        target = cosine[rows, labels]
        logits = cosine.clone()
        logits[rows, labels] = angular_target(target, self.margin)
        return logits * self.scale
