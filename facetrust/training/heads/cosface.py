"""CosFace / LMCL (Wang et al., CVPR 2018): target logit s * (cos(theta_y) - m)."""
from __future__ import annotations

import torch
from torch import nn


class CosFace(nn.Module):
    def __init__(self, scale: float = 64.0, margin: float = 0.35) -> None:
        super().__init__()
        self.scale, self.margin = scale, margin

    def forward(self, cosine: torch.Tensor, labels: torch.Tensor, norms: torch.Tensor | None = None) -> torch.Tensor:
        rows = torch.arange(len(labels), device=cosine.device)
        logits = cosine.clone()
        logits[rows, labels] = cosine[rows, labels] - self.margin
        return logits * self.scale
