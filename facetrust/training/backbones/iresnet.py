"""Improved ResNet (IR) as in insightface's arcface_torch: BN-conv-BN-PReLU-conv-BN residual units,
stages of 64/128/256/512 channels, output BN -> dropout -> linear -> BN (the embedding)."""
from __future__ import annotations

import torch
from torch import nn


class _IRBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.BatchNorm2d(cin), nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.PReLU(cout),
            nn.Conv2d(cout, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout))
        self.shortcut = None if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + (x if self.shortcut is None else self.shortcut(x))


class IResNet(nn.Module):
    MEAN = (127.5, 127.5, 127.5)
    STD = (127.5, 127.5, 127.5)

    def __init__(self, layers: tuple[int, ...], embedding_size: int = 512, dropout: float = 0.0) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.PReLU(64))
        stages, cin = [], 64
        for count, cout in zip(layers, (64, 128, 256, 512)):
            stages += [_IRBlock(cin, cout, 2)] + [_IRBlock(cout, cout, 1) for _ in range(count - 1)]
            cin = cout
        self.stages = nn.Sequential(*stages)
        self.bn2 = nn.BatchNorm2d(512)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(512 * 7 * 7, embedding_size)
        self.features = nn.BatchNorm1d(embedding_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.dropout(self.bn2(self.stages(self.stem(x))).flatten(1))
        return self.features(self.fc(x))


def iresnet18(embedding_size: int = 512) -> IResNet:
    return IResNet((2, 2, 2, 2), embedding_size)


def iresnet50(embedding_size: int = 512) -> IResNet:
    return IResNet((3, 4, 14, 3), embedding_size)
