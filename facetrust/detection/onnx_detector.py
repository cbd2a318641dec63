"""What every onnxruntime detector shares: the session, its input and the common options."""
from __future__ import annotations

from typing import ClassVar

from facetrust.registry import Option
from facetrust.runtime import onnx_session
from facetrust.zoo import model_file


class OnnxDetector:
    #: Options every ONNX detector takes; subclasses add theirs.
    OPTIONS: ClassVar[dict[str, Option]] = {
        "model": Option(str),
        "score_threshold": Option(float, 0.0, 1.0),
        "nms_threshold": Option(float, 0.0, 1.0),
        "max_side": Option(int, 64, 8192),
        "device": Option(str),
    }

    def __init__(self, model: str, score_threshold: float, nms_threshold: float, max_side: int | None,
                 device: str) -> None:
        self._session = onnx_session(model_file(model), device)
        first = self._session.get_inputs()[0]
        self._input = first.name
        self._input_shape = first.shape  # NCHW; dynamic dims are names, not ints
        self.model = model
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.max_side = max_side
        self.device = device

    @property
    def provider(self) -> str:
        """The onnxruntime execution provider actually in use."""
        return self._session.get_providers()[0]
