"""Re-export the Apache-2.0 MiniFASNet ``.pth`` weights to ONNX and compare with the zoo's ONNX files.

The zoo's ``minifasnet-v2`` / ``minifasnet-v1se`` ONNX files are a third-party
export published without a licence file. This script rebuilds both networks in
PyTorch from the official Silent-Face-Anti-Spoofing state dicts (the layer
layout is read from the state dict itself: channel counts, number of residual
blocks, which blocks carry a squeeze-and-excitation unit), exports them with
``torch.onnx.export`` and runs three implementations on the same real face
crops from ``../shared/data``:

* PyTorch with the official ``.pth`` weights,
* our own ONNX re-export (onnxruntime),
* the zoo's third-party ONNX file (onnxruntime),

and prints the largest absolute difference of the softmax outputs. Identical
outputs (to float32 rounding) show that the third-party file carries exactly
the official weights; anyone who prefers not to use it can run this script and
point ``FACETRUST_MODEL_DIR`` at a folder holding the re-exported files
**with their own sha256 added to a local manifest** — the runtime never needs
torch. Needs the ``[train]`` extra (torch) and ``onnx``::

    python -m venv /tmp/torchenv --system-site-packages && . /tmp/torchenv/bin/activate
    pip install torch==2.13.0 onnx && python bench/liveness_onnx_export.py --out /tmp/minifasnet-onnx
"""
from __future__ import annotations

import argparse
import sys
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

MODELS = {  # zoo name -> (.pth file, third-party .onnx file)
    "minifasnet-v2": ("antispoof/2.7_80x80_MiniFASNetV2.pth", "antispoof/2.7_80x80_MiniFASNetV2.onnx"),
    "minifasnet-v1se": ("antispoof/4_0_0_80x80_MiniFASNetV1SE.pth", "antispoof/4_0_0_80x80_MiniFASNetV1SE.onnx"),
}
# (stage name, stride of its depthwise conv); "*_dw"/"*NN" stages downsample, the others are residual groups.
STAGES = (("conv_23", 2), ("conv_3", 1), ("conv_34", 2), ("conv_4", 1), ("conv_45", 2), ("conv_5", 1))


class ConvUnit(nn.Module):
    """conv (no bias) + batch norm, optionally followed by a per-channel PReLU."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, padding: int, groups: int, prelu: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.prelu = nn.PReLU(cout) if prelu else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return self.prelu(x) if self.prelu is not None else x


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, hidden, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(hidden)
        self.fc2 = nn.Conv2d(hidden, channels, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = x.mean(dim=(2, 3), keepdim=True)
        weight = torch.sigmoid(self.bn2(self.fc2(torch.relu(self.bn1(self.fc1(weight))))))
        return x * weight


class DepthWiseBlock(nn.Module):
    """1x1 expand (PReLU) -> 3x3 depthwise (PReLU) -> 1x1 project (linear) [-> SE] [+ input]."""

    def __init__(self, cin: int, hidden: int, cout: int, stride: int, residual: bool, se_hidden: int | None) -> None:
        super().__init__()
        self.conv = ConvUnit(cin, hidden, 1, 1, 0, 1, prelu=True)
        self.conv_dw = ConvUnit(hidden, hidden, 3, stride, 1, hidden, prelu=True)
        self.project = ConvUnit(hidden, cout, 1, 1, 0, 1, prelu=False)
        self.se_module = SqueezeExcite(cout, se_hidden) if se_hidden else None
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.conv_dw(self.conv(x)))
        if self.se_module is not None:
            out = self.se_module(out)
        return x + out if self.residual else out


class ResidualGroup(nn.Module):
    def __init__(self, blocks: list[DepthWiseBlock]) -> None:
        super().__init__()
        self.model = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def _block(state: dict[str, torch.Tensor], prefix: str, stride: int, residual: bool) -> DepthWiseBlock:
    hidden, cin = state[f"{prefix}.conv.conv.weight"].shape[:2]
    cout = state[f"{prefix}.project.conv.weight"].shape[0]
    se_key = f"{prefix}.se_module.fc1.weight"
    se_hidden = state[se_key].shape[0] if se_key in state else None
    return DepthWiseBlock(cin, hidden, cout, stride, residual, se_hidden)


class MiniFASNet(nn.Module):
    """MiniFASNet V1/V2 (+SE) for 80x80 inputs, laid out from a state dict; outputs 3 logits."""

    def __init__(self, state: dict[str, torch.Tensor]) -> None:
        super().__init__()
        c1 = state["conv1.conv.weight"].shape[0]
        self.conv1 = ConvUnit(3, c1, 3, 2, 1, 1, prelu=True)
        self.conv2_dw = ConvUnit(c1, c1, 3, 1, 1, c1, prelu=True)
        for name, stride in STAGES:
            if stride == 2:
                setattr(self, name, _block(state, name, 2, residual=False))
            else:
                count = 1 + max(int(k.split(".")[2]) for k in state if k.startswith(f"{name}.model."))
                setattr(self, name, ResidualGroup([_block(state, f"{name}.model.{i}", 1, True) for i in range(count)]))
        c6, c5 = state["conv_6_sep.conv.weight"].shape[:2]
        kernel = state["conv_6_dw.conv.weight"].shape[-1]
        self.conv_6_sep = ConvUnit(c5, c6, 1, 1, 0, 1, prelu=True)
        self.conv_6_dw = ConvUnit(c6, c6, kernel, 1, 0, c6, prelu=False)
        embedding = state["linear.weight"].shape[0]
        self.linear = nn.Linear(c6, embedding, bias=False)
        self.bn = nn.BatchNorm1d(embedding)
        self.prob = nn.Linear(embedding, state["prob.weight"].shape[0], bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv2_dw(self.conv1(x))
        for name, _ in STAGES:
            x = getattr(self, name)(x)
        x = self.conv_6_dw(self.conv_6_sep(x)).flatten(1)
        return self.prob(self.bn(self.linear(x)))  # dropout of training is the identity here


def load_pth(path: Path) -> MiniFASNet:
    raw = torch.load(path, map_location="cpu", weights_only=True)
    # Trained with DataParallel: keys carry a "module." prefix.
    state = OrderedDict((k.removeprefix("module."), v) for k, v in raw.items())
    model = MiniFASNet(state)
    model.load_state_dict(state, strict=True)
    return model.eval()


def real_crops() -> dict[str, np.ndarray]:
    """Reference crops (facetrust's crop code, YuNet boxes) of every spoof-set image and a few live faces."""
    from facetrust import FaceAnalyzer
    from facetrust.liveness.crop import reference_crop

    analyzer = FaceAnalyzer(detector="yunet")
    images = sorted((SHARED / "data" / "spoof" / "silent_face").glob("*.jpg"))
    images += sorted((SHARED / "data" / "faces" / "timesler_facenet-pytorch" / "data" / "test_images").glob("*/1.jpg"))
    crops = {}
    for path in images:
        image = analyzer.load(path)
        faces = analyzer.detect_rgb(image)
        if faces:
            for scale in (2.7, 4.0):
                crops[f"{path.parent.name}/{path.name}@{scale}"] = reference_crop(image, faces[0].box, scale)
    return crops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="Folder for the re-exported ONNX files.")
    args = parser.parse_args()
    import onnxruntime as ort

    args.out.mkdir(parents=True, exist_ok=True)
    crops = real_crops()
    batch = np.stack([c.transpose(2, 0, 1) for c in crops.values()]).astype(np.float32)  # BGR 0..255, NCHW
    print(f"{len(crops)} real face crops; torch {torch.__version__}, onnxruntime {ort.__version__}")
    print(f"{'model':18s} {'max |torch - re-export|':>24s} {'max |torch - zoo onnx|':>23s} {'argmax agree':>13s}")
    for name, (pth, zoo_onnx) in MODELS.items():
        model = load_pth(SHARED / "models" / pth)
        with torch.no_grad():
            reference = torch.softmax(model(torch.from_numpy(batch)), dim=1).numpy()
        target = args.out / Path(zoo_onnx).name
        with warnings.catch_warnings():  # the TorchScript exporter is deprecated but needs no onnxscript
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(model, torch.zeros(1, 3, 80, 80), str(target), input_names=["input"],
                              output_names=["logits"], opset_version=17, dynamo=False)

        def run(path: Path) -> np.ndarray:
            session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            logits = np.concatenate([session.run(None, {"input": item[None]})[0] for item in batch])
            exp = np.exp(logits - logits.max(axis=1, keepdims=True))
            return exp / exp.sum(axis=1, keepdims=True)

        ours, theirs = run(target), run(SHARED / "models" / zoo_onnx)
        agree = np.mean(ours.argmax(1) == theirs.argmax(1)) * 100
        ours_diff, theirs_diff = np.abs(reference - ours).max(), np.abs(reference - theirs).max()
        print(f"{name:18s} {ours_diff:24.2e} {theirs_diff:23.2e} {agree:12.0f}%")
        print(f"{'':18s} wrote {target}")


if __name__ == "__main__":
    main()
