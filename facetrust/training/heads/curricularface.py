"""CurricularFace (Huang et al., CVPR 2020): ArcFace target; a negative harder than the
margined target (cos_j > cos(theta_y + m)) becomes cos_j * (t + cos_j), where t is a running
mean of the target cosines (early in training t ~ 0 so hard negatives count less; later more)."""
from __future__ import annotations

import torch
from torch import nn

from facetrust.training.heads.arcface import angular_target


class CurricularFace(nn.Module):
    def __init__(self, scale: float = 64.0, margin: float = 0.5, momentum: float = 0.01) -> None:
        super().__init__()
        self.scale, self.margin, self.momentum = scale, margin, momentum
        self.register_buffer("t", torch.zeros(()))

    def forward(self, cosine: torch.Tensor, labels: torch.Tensor, norms: torch.Tensor | None = None) -> torch.Tensor:
        rows = torch.arange(len(labels), device=cosine.device)
        target = cosine[rows, labels]
        margined = angular_target(target, self.margin)
        if self.training:
            with torch.no_grad():
                self.t.mul_(1 - self.momentum).add_(self.momentum * target.mean())
        hard = cosine > margined[:, None]
        logits = torch.where(hard, cosine * (self.t + cosine), cosine)
        logits[rows, labels] = margined
        return logits * self.scale
