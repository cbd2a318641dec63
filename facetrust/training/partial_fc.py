"""Partial FC (An et al., CVPR 2022): the classification layer over all identities' centres, of
which each step uses only a random fraction ``sample_rate`` plus every centre whose class is in
the batch (positives are always kept). Memory for the logits and their gradient scales with the
sampled count, not with the number of identities; ``sample_rate=1.0`` is the full softmax.

Centres not sampled in a step get no gradient from the loss (weight decay still applies).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from facetrust.training.cifp import cifp_logits


class PartialFC(nn.Module):
    def __init__(self, head: nn.Module, num_classes: int, embedding_size: int, sample_rate: float = 1.0,
                 cifp: float = 0.0, cifp_threshold: float = 0.3) -> None:
        super().__init__()
        self.head = head
        self.num_classes, self.sample_rate = num_classes, sample_rate
        self.cifp, self.cifp_threshold = cifp, cifp_threshold
        self.weight = nn.Parameter(torch.normal(0, 0.01, (num_classes, embedding_size)))

    def sample(self, labels: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(indices of the sampled centres, ascending; ``labels`` re-indexed into them)."""
        if self.sample_rate >= 1.0:
            return torch.arange(self.num_classes, device=labels.device), labels
        positives = torch.unique(labels)
        count = max(int(self.sample_rate * self.num_classes), len(positives))
        # Random scores in [0, 1); positives get 2 so that top-k always keeps them.
        # Drawn where the generator lives (the CPU), so that a step samples alike on every device.
        scores = torch.rand(self.num_classes, generator=generator).to(labels.device)
        scores[positives] = 2.0
        index = torch.topk(scores, count, sorted=False).indices.sort().values
        return index, torch.searchsorted(index, labels)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """Mean cross-entropy of the margin logits over the batch."""
        index, local = self.sample(labels, generator)
        norms = embeddings.norm(dim=1)
        centres = self.weight if len(index) == self.num_classes else self.weight[index]
        cosine = F.linear(F.normalize(embeddings), F.normalize(centres)).clamp(-1, 1)
        logits = self.head(cosine, local, norms)
        logits = cifp_logits(logits, cosine.detach(), local, self.cifp, self.cifp_threshold)
        return F.cross_entropy(logits, local)
