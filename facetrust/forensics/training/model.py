"""The SBI detector network (torch): a small RGB CNN plus a spectrum branch, with a
blending-mask head for localisation.

* spatial branch on ``rgb`` (3x96x96): four stages of two 3x3 convolutions (BN, ReLU),
  16-32-64-96 channels, each stage halving the resolution (48, 24, 12, 6);
* frequency branch on ``spectrum`` (1x96x96): four strided 3x3 convolutions (8-16-32-32),
  global average pooling;
* classifier: pooled spatial (96) + frequency (32) features -> 64 -> 1 logit;
* ``luminance=True``: the spatial branch sees the luminance only (replicated to 3 channels,
  inside the graph, so the deployed model takes the same inputs either way).
* mask head: 1x1 convolutions on the 24x24 and (upsampled) 12x12 stages, summed -> 24x24 logits.

Exported with sigmoids: outputs ``score`` (N,) = P(fake) and ``heatmap`` (N, 24, 24).
"""
from __future__ import annotations

import torch
from torch import nn


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


#: ITU-R BT.601 luma weights, as in facetrust.forensics.sbi_inputs.
_LUMA = (0.299, 0.587, 0.114)


class SBINet(nn.Module):
    def __init__(self, luminance: bool = False) -> None:
        super().__init__()
        self.luminance = luminance
        self.register_buffer("luma", torch.tensor(_LUMA).view(1, 3, 1, 1), persistent=False)
        self.stage1 = nn.Sequential(_conv(3, 16, 2), _conv(16, 16))
        self.stage2 = nn.Sequential(_conv(16, 32, 2), _conv(32, 32))
        self.stage3 = nn.Sequential(_conv(32, 64, 2), _conv(64, 64))
        self.stage4 = nn.Sequential(_conv(64, 96, 2), _conv(96, 96))
        self.frequency = nn.Sequential(_conv(1, 8, 2), _conv(8, 16, 2), _conv(16, 32, 2), _conv(32, 32, 2))
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(96 + 32, 64), nn.ReLU(inplace=True), nn.Linear(64, 1))
        self.mask24 = nn.Conv2d(32, 1, 1)
        self.mask12 = nn.Conv2d(64, 1, 1)

    def forward(self, rgb: torch.Tensor, spectrum: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logit (N,), mask logits (N, 24, 24))."""
        if self.luminance:  # the per-channel normalisation is the same affine map, so it commutes with luma
            rgb = (rgb * self.luma).sum(dim=1, keepdim=True).expand(-1, 3, -1, -1)
        x24 = self.stage2(self.stage1(rgb))
        x12 = self.stage3(x24)
        x6 = self.stage4(x12)
        features = torch.cat([x6.mean(dim=(2, 3)), self.frequency(spectrum).mean(dim=(2, 3))], dim=1)
        logit = self.classifier(features)[:, 0]
        mask = self.mask24(x24) + nn.functional.interpolate(self.mask12(x12), scale_factor=2.0, mode="bilinear",
                                                            align_corners=False)
        return logit, mask[:, 0]


class ExportedSBINet(nn.Module):
    """The deployed graph: probabilities instead of logits."""

    def __init__(self, net: SBINet) -> None:
        super().__init__()
        self.net = net

    def forward(self, rgb: torch.Tensor, spectrum: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logit, mask = self.net(rgb, spectrum)
        return torch.sigmoid(logit), torch.sigmoid(mask)
