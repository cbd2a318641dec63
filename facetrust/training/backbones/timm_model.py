"""Any timm model as a backbone: its pooled features followed by a linear embedding + BN."""
from __future__ import annotations

import torch
from torch import nn

from facetrust.training.errors import TrainingConfigError


class TimmBackbone(nn.Module):
    MEAN = (127.5, 127.5, 127.5)
    STD = (127.5, 127.5, 127.5)

    def __init__(self, name: str, embedding_size: int) -> None:
        super().__init__()
        try:
            import timm
        except ImportError:
            raise TrainingConfigError("network 'timm:...' needs timm: pip install timm") from None
        try:
            self.body = timm.create_model(name, pretrained=False, num_classes=0)
        except RuntimeError as exc:  # timm's "Unknown model"
            raise TrainingConfigError(f"timm model {name!r}: {exc}") from None
        self.embedding = nn.Sequential(nn.Linear(self.body.num_features, embedding_size),
                                       nn.BatchNorm1d(embedding_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embedding(self.body(x))
