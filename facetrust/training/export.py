"""Export a trained backbone to ONNX: input ``crops`` (N, 3, 112, 112) float RGB in 0-255 from the
ArcFace 112x112 alignment (the backbone's normalisation is inside the graph), output ``embedding``
(N, D), not normalised. The file is written atomically; its metadata names the network."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from facetrust.training.config import TrainConfig
from facetrust.training.errors import CheckpointError
from facetrust.training.trainer import RecognitionModel, build_model

if TYPE_CHECKING:
    from facetrust.recognition.local import Registration


class _Embedder(nn.Module):
    def __init__(self, model: RecognitionModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        return self.model.embed(crops)


def export_onnx(checkpoint: Path, output: Path, opset: int = 17) -> Path:
    """Write the backbone of ``checkpoint`` (from the trainer) to ``output`` as ONNX."""
    import onnx

    if not checkpoint.is_file():
        raise CheckpointError(f"no checkpoint at {checkpoint}")
    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        config = TrainConfig(**state["config"])
        model = build_model(TrainConfig(**{**state["config"], "pretrained": ""}), len(state["identities"]))
        model.load_state_dict(state["model"])
    except (KeyError, TypeError, RuntimeError, EOFError, OSError) as exc:
        raise CheckpointError(f"{checkpoint} is not a usable training checkpoint: {str(exc).splitlines()[0]}") from None
    model.eval()
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=output.parent, prefix=output.name, suffix=".tmp")
    os.close(handle)
    try:
        # The TorchScript exporter (dynamo=False): the torch.export one needs onnxscript, not in [train].
        torch.onnx.export(_Embedder(model), (torch.zeros(1, 3, 112, 112),), tmp, input_names=["crops"],
                          output_names=["embedding"], dynamic_axes={"crops": {0: "batch"}, "embedding": {0: "batch"}},
                          opset_version=opset, dynamo=False)
        graph = onnx.load(tmp)
        for key, value in (("network", config.network), ("embedding_size", str(config.embedding_size)),
                           ("head", config.head), ("input", "RGB 0-255, ArcFace-aligned 112x112, NCHW")):
            graph.metadata_props.add(key=key, value=value)
        onnx.save(graph, tmp)
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return output


def export_registered(checkpoint: Path, output: Path, name: str, calibrate_on: Path, *,
                      pairs_root: Path | None = None, detector: str | None = None, replace: bool = False,
                      license: str | None = None, commercial_use: bool = False, workers: int = 1,
                      progress: bool = True) -> Registration:
    """Export ``checkpoint`` to ``output`` and register it as the local recognizer ``name`` with
    thresholds calibrated on ``calibrate_on`` (facetrust.recognition.local.register_recognizer).
    ``license`` / ``commercial_use``: what the user states (default: not stated, not cleared for
    commercial use). The name is checked before anything is written."""
    from facetrust.defaults import DEFAULT_DETECTOR
    from facetrust.recognition.local import check_name, register_recognizer

    check_name(name, replace)
    export_onnx(checkpoint, output)
    config = TrainConfig(**torch.load(checkpoint, map_location="cpu", weights_only=False)["config"])
    source = (f"trained locally from {Path(checkpoint).resolve()} (network {config.network}, head {config.head}, "
              f"starting weights {config.pretrained or 'random'}, data {config.data or 'unknown'})")
    licence = license or "not stated (trained locally; the licences of its starting weights and training data apply)"
    return register_recognizer(name, output, calibrate_on, source=source, license=licence,
                               commercial_use=commercial_use, detector=detector or DEFAULT_DETECTOR, pairs_root=pairs_root, replace=replace,
                               workers=workers, progress=progress)
