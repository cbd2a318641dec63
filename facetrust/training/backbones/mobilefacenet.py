"""MobileFaceNet (Chen et al. 2018) in foamliu's layout, so that its published state_dict
(``recognition/mobilefacenet.pt`` in the model store, Apache-2.0) loads as is: ReLU6 activations,
inverted residual stages (t, c, n, s) = (2,64,5,2) (4,128,1,2) (2,128,6,1) (4,128,1,2) (2,128,2,1),
global depthwise 7x7 convolution, 128-d linear (1x1 conv) embedding with BatchNorm."""
from __future__ import annotations

import torch
from torch import nn

from facetrust.training.backbones import check_embedding_size

_SETTINGS = ((2, 64, 5, 2), (4, 128, 1, 2), (2, 128, 6, 1), (4, 128, 1, 2), (2, 128, 2, 1))


class _ConvBNReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> None:
        super().__init__(nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU6(inplace=True))


class _DepthwiseSeparable(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False)
        self.pointwise = nn.Conv2d(channels, channels, 1, bias=False)
        self.bn1, self.bn2 = nn.BatchNorm2d(channels), nn.BatchNorm2d(channels)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn2(self.pointwise(self.relu(self.bn1(self.depthwise(x))))))


class _GlobalDepthwise(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(channels, channels, 7, groups=channels, bias=False)
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.depthwise(x))


class _InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.residual = stride == 1 and cin == cout
        self.conv = nn.Sequential(_ConvBNReLU(cin, hidden, 1), _ConvBNReLU(hidden, hidden, 3, stride, hidden),
                                  nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.residual else self.conv(x)


class MobileFaceNet(nn.Module):
    MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
    STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)
    ZOO_WEIGHTS = "recognition/mobilefacenet.pt"

    def __init__(self, embedding_size: int = 128) -> None:
        super().__init__()
        check_embedding_size("mobilefacenet", embedding_size, 128)
        self.conv1 = _ConvBNReLU(3, 64, 3, 2)
        self.dw_conv = _DepthwiseSeparable(64)
        blocks, cin = [], 64
        for expand, cout, repeats, stride in _SETTINGS:
            for i in range(repeats):
                blocks.append(_InvertedResidual(cin, cout, stride if i == 0 else 1, expand))
                cin = cout
        self.features = nn.Sequential(*blocks)
        self.conv2 = _ConvBNReLU(cin, 512, 1)
        self.gdconv = _GlobalDepthwise(512)
        self.conv3 = nn.Conv2d(512, 128, 1)
        self.bn = nn.BatchNorm2d(128)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.gdconv(self.conv2(self.features(self.dw_conv(self.conv1(x)))))
        return self.bn(self.conv3(x)).flatten(1)
