"""Export RetinaFace-MobileNet0.25 (biubug6/Pytorch_Retinaface, MIT) to ONNX and check it.

The weights exist only as a PyTorch state_dict (zoo ``retinaface-mnet025``).
This rebuilds the network (models/net.py and models/retinaface.py of
Pytorch_Retinaface, inference phase: softmax on the class scores), loads the
state_dict strictly, exports with dynamic batch/height/width (opset 17) and
checks onnxruntime against torch on a real photo. The runtime then needs only
onnxruntime; prior boxes and decoding live in ``facetrust/detection/retinaface.py``.

    pip install 'facetrust[train]'
    python -m facetrust.detection.export.retinaface_onnx --out facetrust/models/detection/retinaface_mnet025.onnx
"""
from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def _conv_bn(inp: int, oup: int, stride: int = 1, leaky: float = 0.0) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(inp, oup, 3, stride, 1, bias=False), nn.BatchNorm2d(oup),
                         nn.LeakyReLU(negative_slope=leaky, inplace=True))


def _conv_bn_no_relu(inp: int, oup: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(inp, oup, 3, 1, 1, bias=False), nn.BatchNorm2d(oup))


def _conv_bn1x1(inp: int, oup: int, leaky: float) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(inp, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup),
                         nn.LeakyReLU(negative_slope=leaky, inplace=True))


def _conv_dw(inp: int, oup: int, stride: int, leaky: float = 0.1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(inp, inp, 3, stride, 1, groups=inp, bias=False), nn.BatchNorm2d(inp),
        nn.LeakyReLU(negative_slope=leaky, inplace=True),
        nn.Conv2d(inp, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup), nn.LeakyReLU(negative_slope=leaky, inplace=True),
    )


class MobileNetV1(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stage1 = nn.Sequential(_conv_bn(3, 8, 2, leaky=0.1), _conv_dw(8, 16, 1), _conv_dw(16, 32, 2),
                                    _conv_dw(32, 32, 1), _conv_dw(32, 64, 2), _conv_dw(64, 64, 1))
        self.stage2 = nn.Sequential(_conv_dw(64, 128, 2), *[_conv_dw(128, 128, 1) for _ in range(5)])
        self.stage3 = nn.Sequential(_conv_dw(128, 256, 2), _conv_dw(256, 256, 1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        c1 = self.stage1(x)
        c2 = self.stage2(c1)
        return [c1, c2, self.stage3(c2)]


class FPN(nn.Module):
    def __init__(self, in_channels: list[int], out_channels: int) -> None:
        super().__init__()
        leaky = 0.1 if out_channels <= 64 else 0.0
        self.output1 = _conv_bn1x1(in_channels[0], out_channels, leaky)
        self.output2 = _conv_bn1x1(in_channels[1], out_channels, leaky)
        self.output3 = _conv_bn1x1(in_channels[2], out_channels, leaky)
        self.merge1 = _conv_bn(out_channels, out_channels, leaky=leaky)
        self.merge2 = _conv_bn(out_channels, out_channels, leaky=leaky)

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        out1, out2, out3 = self.output1(features[0]), self.output2(features[1]), self.output3(features[2])
        out2 = self.merge2(out2 + F.interpolate(out3, size=out2.shape[2:], mode="nearest"))
        out1 = self.merge1(out1 + F.interpolate(out2, size=out1.shape[2:], mode="nearest"))
        return [out1, out2, out3]


class SSH(nn.Module):
    def __init__(self, in_channel: int, out_channel: int) -> None:
        super().__init__()
        leaky = 0.1 if out_channel <= 64 else 0.0
        self.conv3X3 = _conv_bn_no_relu(in_channel, out_channel // 2)
        self.conv5X5_1 = _conv_bn(in_channel, out_channel // 4, leaky=leaky)
        self.conv5X5_2 = _conv_bn_no_relu(out_channel // 4, out_channel // 4)
        self.conv7X7_2 = _conv_bn(out_channel // 4, out_channel // 4, leaky=leaky)
        self.conv7x7_3 = _conv_bn_no_relu(out_channel // 4, out_channel // 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c5_1 = self.conv5X5_1(x)
        c7 = self.conv7x7_3(self.conv7X7_2(c5_1))
        return F.relu(torch.cat([self.conv3X3(x), self.conv5X5_2(c5_1), c7], dim=1))


class _Head(nn.Module):
    def __init__(self, channels: int, per_anchor: int, anchors: int = 2) -> None:
        super().__init__()
        self.per_anchor = per_anchor
        self.conv1x1 = nn.Conv2d(channels, anchors * per_anchor, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1x1(x).permute(0, 2, 3, 1).contiguous()
        return out.view(out.shape[0], -1, self.per_anchor)


class RetinaFace(nn.Module):
    """Outputs (loc [N,A,4], conf [N,A,2] softmaxed, landms [N,A,10]), anchors in prior-box order."""

    def __init__(self) -> None:
        super().__init__()
        self.body = MobileNetV1()
        self.fpn = FPN([64, 128, 256], 64)
        self.ssh1, self.ssh2, self.ssh3 = SSH(64, 64), SSH(64, 64), SSH(64, 64)
        self.ClassHead = nn.ModuleList([_Head(64, 2) for _ in range(3)])
        self.BboxHead = nn.ModuleList([_Head(64, 4) for _ in range(3)])
        self.LandmarkHead = nn.ModuleList([_Head(64, 10) for _ in range(3)])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        fpn = self.fpn(self.body(x))
        features = [self.ssh1(fpn[0]), self.ssh2(fpn[1]), self.ssh3(fpn[2])]
        loc = torch.cat([head(f) for head, f in zip(self.BboxHead, features)], dim=1)
        conf = torch.cat([head(f) for head, f in zip(self.ClassHead, features)], dim=1)
        landms = torch.cat([head(f) for head, f in zip(self.LandmarkHead, features)], dim=1)
        return loc, F.softmax(conf, dim=-1), landms


def load_torch_model(weights: Path) -> RetinaFace:
    state = torch.load(weights, map_location="cpu", weights_only=True)
    state = {k.removeprefix("module."): v for k, v in state.items()}
    model = RetinaFace()
    model.load_state_dict(state, strict=True)
    return model.eval()


def export(weights: Path, out: Path) -> Path:
    model = load_torch_model(weights)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".part")
    torch.onnx.export(
        model, (torch.zeros(1, 3, 320, 320),), str(tmp), opset_version=17, dynamo=False,
        input_names=["input"], output_names=["loc", "conf", "landms"],
        dynamic_axes={"input": {0: "batch", 2: "height", 3: "width"}, "loc": {0: "batch", 1: "anchors"},
                      "conf": {0: "batch", 1: "anchors"}, "landms": {0: "batch", 1: "anchors"}},
    )
    tmp.replace(out)
    return out


def check(weights: Path, onnx_file: Path, image: Path) -> float:
    """Max abs difference of every output between torch and onnxruntime on ``image``."""
    import onnxruntime as ort

    from facetrust.io import load_image

    rgb = load_image(image)
    height, width = (-(-v // 32) * 32 for v in rgb.shape[:2])
    blob = np.zeros((1, 3, height, width), np.float32)
    blob[0, :, : rgb.shape[0], : rgb.shape[1]] = (rgb[:, :, ::-1] - np.array([104, 117, 123], np.float32)).transpose(2, 0, 1)
    with torch.no_grad():
        expected = [t.numpy() for t in load_torch_model(weights)(torch.from_numpy(blob))]
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    actual = session.run(None, {"input": blob})
    return max(float(np.abs(a - e).max()) for a, e in zip(actual, expected))


def main() -> None:
    from facetrust.zoo import model_file

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--image", type=Path, help="photo to compare torch and onnxruntime on "
                        "(default: the face_recognition two_people.jpg under ../shared)")
    args = parser.parse_args()
    weights = model_file("retinaface-mnet025")
    image = args.image or Path(__file__).resolve().parents[3].parent / "shared/data/faces/ageitgey_face_recognition/examples/two_people.jpg"
    out = export(weights, args.out)
    diff = check(weights, out, image)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"wrote {out} ({out.stat().st_size} bytes, sha256 {digest}); max |onnx - torch| = {diff:.2e} on {image.name}")
    if diff > 1e-4:
        raise SystemExit(f"export check failed: max abs difference {diff:.2e} > 1e-4")


if __name__ == "__main__":
    main()
