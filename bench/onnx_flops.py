"""FLOPs of one forward pass of an ONNX model, counted from the shapes onnxruntime actually produces.

Symbolic shape inference stops at the dynamic Reshape/Shape chains of the PyTorch exports, so
the graph is run once (no optimisation, every tensor exposed as an output) on the real input
shape and the shapes are read off the results. Counted, at 2 FLOPs per multiply-add:
``Conv`` (grouped and depthwise included), ``MatMul`` and ``Gemm``. Every other operator (adds,
activations, normalisation, softmax, pooling, resize) is reported separately as the number of
elements it writes, a lower bound of its arithmetic and a measure of its memory traffic.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

_FREE = {"Shape", "Constant", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Gather", "Concat", "Slice",
         "Identity", "Cast", "ConstantOfShape", "Range", "Expand", "Split"}


@dataclass(frozen=True)
class OpCount:
    matmul_flops: int  # Conv + MatMul + Gemm, 2 per multiply-add
    other_elements: int  # elements written by every other computing operator
    by_op: dict[str, int]  # matmul_flops per operator type


def count_flops(path: Path, shape: tuple[int, ...]) -> OpCount:
    """Count one forward pass of the model at ``path`` on a float32 input of ``shape`` (NCHW)."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(path))
    graph = model.graph
    known = {o.name for o in graph.output}
    for node in graph.node:
        for name in node.output:
            if name and name not in known:
                graph.output.append(onnx.ValueInfoProto(name=name))
                known.add(name)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: np.zeros(shape, np.float32)}
    names = [o.name for o in session.get_outputs()]
    shapes = {name: np.shape(value) for name, value in zip(names, session.run(names, feed))}
    shapes.update({t.name: tuple(t.dims) for t in graph.initializer})
    shapes[graph.input[0].name] = shape

    matmul, other, by_op = 0, 0, {}
    for node in graph.node:
        out = shapes.get(node.output[0])
        if out is None:
            continue
        if node.op_type == "Conv":
            weight = shapes[node.input[1]]  # (Cout, Cin/groups, kh, kw)
            flops = 2 * int(np.prod(out)) * int(np.prod(weight[1:]))
        elif node.op_type == "MatMul":
            flops = 2 * int(np.prod(out)) * shapes[node.input[0]][-1]
        elif node.op_type == "Gemm":
            trans_a = next((a.i for a in node.attribute if a.name == "transA"), 0)
            a = shapes[node.input[0]]
            flops = 2 * int(np.prod(out)) * (a[0] if trans_a else a[1])
        else:
            if node.op_type not in _FREE:
                other += int(np.prod(out))
            continue
        matmul += flops
        by_op[node.op_type] = by_op.get(node.op_type, 0) + flops
    return OpCount(matmul, other, by_op)
