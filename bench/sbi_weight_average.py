"""Weight-space average (WiSE-FT / "model soup") of ONNX models with identical graphs.

    python bench/sbi_weight_average.py SHIPPED.onnx FINE_TUNED.onnx --alpha 0.5 --out AVERAGED.onnx
    python bench/sbi_weight_average.py A.onnx B.onnx C.onnx --weights 0.5 0.25 0.25 --out SOUP.onnx

Every float initializer of the output is the weighted mean of that initializer in the inputs
(``--alpha``: the weight of the second of two files, the first gets ``1 - alpha``; ``--weights``:
one weight per file, summing to 1; default: equal weights). The mean is taken in float64 and cast
back to the initializer's dtype. Everything else (nodes, inputs, outputs, opset, metadata) is the
first file's. The files must be the same network: the same nodes (op type, inputs, outputs,
attributes, in order) and the same initializers (names, shapes, dtypes); integer and bool
initializers (shapes, indices) must be equal. Anything else is refused with an error, never
averaged approximately. Prints the output's sha256.

Why averaging the exported graphs is averaging the networks: ``train_sbi --init`` fine-tunes with
batch norm folded into the convolutions and frozen, so each exported convolution weight and bias
is the trained parameter itself (docs/forensics.md, "Second pass: the retrained run").
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from facetrust.io.atomic import atomic_file  # noqa: E402


class GraphMismatchError(ValueError):
    """The models are not the same network, so their weights cannot be averaged."""


def _check_same_network(models: Sequence["onnx.ModelProto"], paths: Sequence[Path]) -> None:  # noqa: F821
    first = models[0].graph
    if first.sparse_initializer:
        raise GraphMismatchError(f"{paths[0]}: sparse initializers are not supported")
    for model, path in zip(models[1:], paths[1:]):
        graph = model.graph
        if len(graph.node) != len(first.node):
            raise GraphMismatchError(f"{path}: {len(graph.node)} nodes, {paths[0]} has {len(first.node)}")
        for index, (node, reference) in enumerate(zip(graph.node, first.node)):
            if node.SerializeToString(deterministic=True) != reference.SerializeToString(deterministic=True):
                raise GraphMismatchError(f"{path}: node {index} ({node.op_type} {node.name!r}) differs from "
                                         f"{paths[0]}'s ({reference.op_type} {reference.name!r})")
        if graph.sparse_initializer:
            raise GraphMismatchError(f"{path}: sparse initializers are not supported")
        for kind in ("input", "output"):
            ours, theirs = getattr(graph, kind), getattr(first, kind)
            if [v.SerializeToString(deterministic=True) for v in ours] != \
                    [v.SerializeToString(deterministic=True) for v in theirs]:
                raise GraphMismatchError(f"{path}: graph {kind}s differ from {paths[0]}'s")
        names = [(i.name, tuple(i.dims), i.data_type) for i in graph.initializer]
        reference_names = [(i.name, tuple(i.dims), i.data_type) for i in first.initializer]
        if names != reference_names:
            missing = set(reference_names) ^ set(names)
            raise GraphMismatchError(f"{path}: initializers (name, shape, dtype) differ from {paths[0]}'s"
                                     + (f": {sorted(missing)[:4]}" if missing else " (order)"))


def _load(path: Path) -> "onnx.ModelProto":  # noqa: F821
    """The ONNX model in ``path``; ValueError naming the file when it is not one (corrupt, truncated)."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        return onnx.load(str(path))
    except DecodeError:
        raise ValueError(f"{path}: not an ONNX model (corrupt or truncated)") from None


def average(paths: Sequence[Path], weights: Sequence[float]) -> "onnx.ModelProto":  # noqa: F821
    """The first model with every float initializer replaced by the ``weights``-weighted mean over ``paths``."""
    import onnx
    from onnx import numpy_helper

    if len(paths) < 2 or len(paths) != len(weights):
        raise ValueError(f"need two or more models and one weight each, got {len(paths)} models, {len(weights)} weights")
    if min(weights) < 0 or abs(sum(weights) - 1.0) > 1e-9:
        raise ValueError(f"weights must be >= 0 and sum to 1, got {list(weights)}")
    models = [_load(path) for path in paths]
    _check_same_network(models, paths)
    out = models[0]
    for index, initializer in enumerate(out.graph.initializer):
        arrays = [numpy_helper.to_array(model.graph.initializer[index]) for model in models]
        if arrays[0].dtype.kind == "f":
            mean = sum(w * a.astype(np.float64) for w, a in zip(weights, arrays))
            replacement = numpy_helper.from_array(mean.astype(arrays[0].dtype), initializer.name)
        else:
            for array, path in zip(arrays[1:], paths[1:]):
                if not np.array_equal(array, arrays[0]):
                    raise GraphMismatchError(f"{path}: non-float initializer {initializer.name!r} differs from "
                                             f"{paths[0]}'s; it cannot be averaged")
            continue
        initializer.CopyFrom(replacement)
    onnx.checker.check_model(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", type=Path, help="ONNX files of the same network (two or more)")
    parser.add_argument("--out", type=Path, required=True, help="the averaged ONNX file to write")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--alpha", type=float, help="two files: the weight of the second (the first gets 1 - alpha)")
    group.add_argument("--weights", type=float, nargs="+", help="one weight per file, summing to 1")
    args = parser.parse_args()
    if len(args.models) < 2:
        parser.error("give two or more ONNX files")
    if args.alpha is not None:
        if len(args.models) != 2 or not 0.0 <= args.alpha <= 1.0:
            parser.error("--alpha needs exactly two files and a value in [0, 1]")
        weights = [1.0 - args.alpha, args.alpha]
    else:
        weights = args.weights or [1.0 / len(args.models)] * len(args.models)
    for path in args.models:
        if not path.is_file():
            parser.error(f"{path}: no such file")
    try:
        model = average(args.models, weights)
    except (GraphMismatchError, ValueError) as error:
        sys.exit(f"error: {error}")
    data = model.SerializeToString()
    try:
        with atomic_file(args.out) as stream:
            stream.write(data)
    except OSError as error:
        sys.exit(f"error: cannot write {args.out}: {error.strerror}")
    print(f"{args.out}: weights {', '.join(f'{w:g}' for w in weights)} of {', '.join(map(str, args.models))}")
    print(f"sha256 {hashlib.sha256(data).hexdigest()}  {len(data)} bytes")


if __name__ == "__main__":
    main()
