"""AdaFace (Kim et al., CVPR 2022): the margin depends on image quality, estimated by the
embedding's norm relative to the batch (running mean/std). High-quality samples get an angular
margin (ArcFace-like), low-quality ones an additive one (CosFace-like) of opposite emphasis:
target = s * (cos(clip(theta + g_angle)) - g_add), g_angle = -m z, g_add = m + m z,
z = clip(h (norm - mean) / (std + eps), -1, 1)."""
from __future__ import annotations

import math

import torch
from torch import nn

from facetrust.training.errors import TrainingConfigError


class AdaFace(nn.Module):
    def __init__(self, scale: float = 64.0, margin: float = 0.4, h: float = 0.333, momentum: float = 0.01) -> None:
        super().__init__()
        self.scale, self.margin, self.h, self.momentum = scale, margin, h, momentum
        self.eps = 1e-3
        self.register_buffer("batch_mean", torch.tensor(20.0))
        self.register_buffer("batch_std", torch.tensor(100.0))

    def forward(self, cosine: torch.Tensor, labels: torch.Tensor, norms: torch.Tensor | None = None) -> torch.Tensor:
        if norms is None:
            raise TrainingConfigError("adaface needs the embeddings' norms")
        norms = norms.detach().clamp(0.001, 100)
        if self.training:
            with torch.no_grad():
                std = norms.std() if len(norms) > 1 else torch.zeros((), device=norms.device)
                self.batch_mean.mul_(1 - self.momentum).add_(self.momentum * norms.mean())
                self.batch_std.mul_(1 - self.momentum).add_(self.momentum * std)
        z = ((norms - self.batch_mean) / (self.batch_std + self.eps) * self.h).clamp(-1, 1)
        rows = torch.arange(len(labels), device=cosine.device)
        target = cosine[rows, labels].clamp(-1 + self.eps, 1 - self.eps)
        theta = torch.acos(target) - self.margin * z
        logits = cosine.clone()
        logits[rows, labels] = torch.cos(theta.clamp(self.eps, math.pi - self.eps)) - (self.margin + self.margin * z)
        return logits * self.scale
