"""Reproduce the EdgeFace ONNX exports from the author's int8 checkpoints, and check them.

The EdgeFace checkpoints (zoo ``edgeface-xs-pt`` / ``edgeface-xxs-pt``) are
dynamic-int8 state_dicts of timm ``edgenext_x_small`` / ``edgenext_xx_small``
with ``reset_classifier(512)``, wrapped as ``.model`` (EdgeFace's
``TimmFRWrapperV2``), then ``quantize_dynamic({nn.Linear}, qint8)``. This
rebuilds that model, loads the checkpoint strictly, copies the dequantised int8
Linear weights into a float model, exports it (opset 17, dynamic batch) and
compares on real ArcFace-aligned faces (../shared photos, YuNet landmarks):

* the export against the float torch model (should agree to ~1e-6),
* the export against the int8 checkpoint as the author runs it (dynamic int8
  also quantises activations, so they differ: reported as the lowest cosine),
* the export against the zoo's ONNX file, when one is available.

    pip install 'facetrust[export]'
    python -m facetrust.recognition.export.edgeface_onnx xs --out /tmp/edgeface_xs.onnx
"""
from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np
import torch
from torch import nn

_ARCH = {"xs": "edgenext_x_small", "xxs": "edgenext_xx_small"}
#: Photos under ../shared/data/faces whose largest face is compared.
_PHOTOS = (
    "ageitgey_face_recognition/examples/obama.jpg",
    "ageitgey_face_recognition/examples/biden.jpg",
    "ageitgey_face_recognition/examples/two_people.jpg",
    "timesler_facenet-pytorch/data/multiface.jpg",
)


class EdgeFaceWrapper(nn.Module):
    """EdgeFace's TimmFRWrapperV2: the timm backbone under ``.model``."""

    def __init__(self, arch: str) -> None:
        super().__init__()
        import timm

        self.model = timm.create_model(arch, pretrained=False)
        self.model.reset_classifier(512)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def load_models(variant: str, checkpoint: Path) -> tuple[nn.Module, nn.Module]:
    """(int8 model as the author runs it, float model with the dequantised weights)."""
    quantized = torch.ao.quantization.quantize_dynamic(EdgeFaceWrapper(_ARCH[variant]), {nn.Linear}, dtype=torch.qint8)
    quantized.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=False), strict=True)
    quantized.eval()
    floating = EdgeFaceWrapper(_ARCH[variant]).eval()
    float_modules = dict(floating.named_modules())
    with torch.no_grad():
        for name, module in quantized.named_modules():
            if isinstance(module, torch.ao.nn.quantized.dynamic.Linear):
                target = float_modules[name]
                target.weight.copy_(module.weight().dequantize())
                target.bias.copy_(module.bias())
        # Everything that is not an int8 Linear is stored in float: copy it as is.
        plain = {k: v for k, v in quantized.state_dict().items() if k in floating.state_dict()
                 and isinstance(v, torch.Tensor) and not v.is_quantized}
        missing = floating.load_state_dict(plain, strict=False).missing_keys
    linear_keys = {f"{n}.{p}" for n, m in floating.named_modules() if isinstance(m, nn.Linear) for p in ("weight", "bias")}
    if set(missing) - linear_keys:
        raise RuntimeError(f"weights not copied into the float model: {sorted(set(missing) - linear_keys)[:5]}")
    return quantized, floating


def export(model: nn.Module, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".part")
    torch.onnx.export(model, (torch.zeros(1, 3, 112, 112),), str(tmp), opset_version=17, dynamo=False,
                      input_names=["input"], output_names=["embedding"],
                      dynamic_axes={"input": {0: "batch"}, "embedding": {0: "batch"}})
    tmp.replace(out)
    return out


def aligned_faces(shared: Path) -> np.ndarray:
    """[N,3,112,112] float32 RGB (x/255-0.5)/0.5 of the largest face of each photo."""
    from facetrust.alignment import align_arcface
    from facetrust.detection import DETECTORS
    from facetrust.io import load_image

    detector = DETECTORS.create("yunet")
    crops = []
    for photo in _PHOTOS:
        image = load_image(shared / "data" / "faces" / photo)
        face = detector.detect(image)[0]
        crops.append(align_arcface(image, face.landmarks, 112))
    batch = (np.stack(crops).astype(np.float32) - 127.5) / 127.5
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def main() -> None:
    import onnxruntime as ort

    from facetrust.errors import ModelError
    from facetrust.zoo import model_file

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variant", choices=sorted(_ARCH))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[3].parent / "shared",
                        help="the shared data folder (photos to compare on)")
    args = parser.parse_args()
    quantized, floating = load_models(args.variant, model_file(f"edgeface-{args.variant}-pt"))
    out = export(floating, args.out)
    batch = aligned_faces(args.shared)
    with torch.no_grad():
        reference_float = floating(torch.from_numpy(batch)).numpy()
        reference_int8 = quantized(torch.from_numpy(batch)).numpy()
    ours = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"input": batch})[0]
    float_diff = float(np.abs(ours - reference_float).max())
    int8_cosine = float(np.min(np.sum(_unit(ours) * _unit(reference_int8), axis=1)))
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"wrote {out} ({out.stat().st_size} bytes, sha256 {digest})")
    print(f"max |onnx - float torch| = {float_diff:.2e}; lowest cosine(onnx, int8 checkpoint) = {int8_cosine:.5f} "
          f"on {len(batch)} faces")
    zoo_diff = 0.0
    try:
        zoo = model_file(f"edgeface-{args.variant}")
    except ModelError as exc:
        print(f"zoo file not available for comparison: {exc}")
    else:
        theirs = ort.InferenceSession(str(zoo), providers=["CPUExecutionProvider"]).run(None, {"input": batch})[0]
        zoo_diff = float(np.abs(ours - theirs).max())
        print(f"max |onnx - zoo onnx {zoo.name}| = {zoo_diff:.2e}")
    # The int8 cosine is reported, not gated: dynamic int8 also quantises activations.
    if float_diff > 1e-4 or zoo_diff > 1e-4:
        raise SystemExit("export check failed: the ONNX graph does not reproduce the float model / the zoo file")


if __name__ == "__main__":
    main()
