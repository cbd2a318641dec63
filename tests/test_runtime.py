"""ONNX sessions carry facetrust's CPU settings: threads, in-order execution, full graph optimisation."""
from __future__ import annotations

import onnxruntime as ort
import pytest

from facetrust.runtime import THREADS_ENV, onnx_session
from facetrust.zoo import model_file


@pytest.mark.parametrize("threads", ["1", "2"])
def test_session_options_are_applied(shared, monkeypatch, threads: str) -> None:
    monkeypatch.setenv(THREADS_ENV, threads)
    options = onnx_session(model_file("edgeface-xxs")).get_session_options()
    assert options.intra_op_num_threads == int(threads)
    assert options.inter_op_num_threads == 1
    assert options.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
