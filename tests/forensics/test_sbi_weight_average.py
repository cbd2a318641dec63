"""bench/sbi_weight_average.py (how the follow-up 3 candidate of docs/forensics.md is built): the
weighted mean of the packaged model's weights, and refusals for graphs that are not the same network."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import numpy_helper  # noqa: E402

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "sbi_weight_average.py"


def _script():
    spec = importlib.util.spec_from_file_location("sbi_weight_average", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _weights(model) -> dict[str, np.ndarray]:
    return {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}


@pytest.fixture(scope="module")
def packaged_and_shifted(tmp_path_factory) -> tuple[Path, Path]:
    """The packaged model, and a copy whose every float weight is shifted by +1 (same graph)."""
    from facetrust.forensics.sbi import model_path

    packaged = model_path()
    model = onnx.load(str(packaged))
    for initializer in model.graph.initializer:
        array = numpy_helper.to_array(initializer)
        initializer.CopyFrom(numpy_helper.from_array(array + np.ones_like(array), initializer.name))
    shifted = tmp_path_factory.mktemp("wise") / "shifted.onnx"
    onnx.save(model, str(shifted))
    return packaged, shifted


def test_alpha_weights_the_second_model_and_keeps_the_graph(packaged_and_shifted) -> None:
    script = _script()
    packaged, shifted = packaged_and_shifted
    reference = onnx.load(str(packaged))
    original = _weights(reference)
    for alpha in (0.0, 0.25):
        averaged = script.average([packaged, shifted], [1.0 - alpha, alpha])
        for name, array in _weights(averaged).items():
            assert array.dtype == original[name].dtype
            np.testing.assert_allclose(array, original[name] + alpha, atol=1e-6)
        assert [n.SerializeToString() for n in averaged.graph.node] == \
            [n.SerializeToString() for n in reference.graph.node]
    # alpha 0 writes the first file back byte for byte (how the script was checked on the real pair)
    assert script.average([packaged, shifted], [1.0, 0.0]).SerializeToString() == packaged.read_bytes()


def test_refuses_models_that_are_not_the_same_network(packaged_and_shifted, tmp_path) -> None:
    script = _script()
    packaged, _ = packaged_and_shifted
    renamed = onnx.load(str(packaged))
    renamed.graph.node[0].name = "another"
    onnx.save(renamed, str(tmp_path / "node.onnx"))
    with pytest.raises(script.GraphMismatchError, match="node 0"):
        script.average([packaged, tmp_path / "node.onnx"], [0.5, 0.5])
    retyped = onnx.load(str(packaged))
    first = retyped.graph.initializer[0]
    first.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(first).astype(np.float64), first.name))
    onnx.save(retyped, str(tmp_path / "dtype.onnx"))
    with pytest.raises(script.GraphMismatchError, match="initializers"):
        script.average([packaged, tmp_path / "dtype.onnx"], [0.5, 0.5])
    with pytest.raises(ValueError, match="sum to 1"):
        script.average([packaged, packaged], [0.5, 0.6])


def test_a_truncated_file_is_named_not_a_protobuf_traceback(packaged_and_shifted, tmp_path) -> None:
    script = _script()
    packaged, _ = packaged_and_shifted
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(packaged.read_bytes()[:5000])
    with pytest.raises(ValueError, match="truncated.onnx: not an ONNX model"):
        script.average([packaged, truncated], [0.5, 0.5])
