"""Export a trained backbone to ONNX: input ``crops`` (N, 3, 112, 112) float RGB in 0-255 from the
ArcFace 112x112 alignment (the backbone's normalisation is inside the graph), output ``embedding``
(N, D), not normalised. The file is written atomically; its metadata names the network."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch
from torch import nn

from facetrust.training.config import TrainConfig
from facetrust.training.errors import CheckpointError
from facetrust.training.trainer import RecognitionModel, build_model


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
