"""A full Keras (2.x) functional model saved as ``.h5``, run in numpy — no TensorFlow.

The graph is the ``model_config`` stored in the file; weights are read with h5py. Only the
layers the mini-Xception expression model uses are supported (Conv2D, SeparableConv2D,
BatchNormalization, Activation relu/softmax, MaxPooling2D, Add, GlobalAveragePooling2D);
any other layer is a :class:`ModelError` at load time, never a wrong answer. Conventions
(NHWC, TensorFlow 'same' padding, BatchNormalization epsilon) are those of
:mod:`facetrust.forensics.keras_nn`, whose helpers are reused.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import numpy as np

from facetrust.errors import ModelError
from facetrust.forensics import keras_nn as nn

Array = np.ndarray


def _padded(x: Array, kernel: int, stride: int, padding: str, value: float = 0.0) -> Array:
    if padding == "valid":
        return x
    top, bottom = nn._same_padding(x.shape[1], kernel, stride)
    left, right = nn._same_padding(x.shape[2], kernel, stride)
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def _taps(x: Array, kh: int, kw: int, stride: int) -> tuple[int, int, Callable[[int, int], Array]]:
    """Output size and a view of ``x`` (already padded) for each kernel tap (row, col)."""
    height = (x.shape[1] - kh) // stride + 1
    width = (x.shape[2] - kw) // stride + 1
    return height, width, lambda r, c: x[:, r: r + stride * (height - 1) + 1: stride,
                                         c: c + stride * (width - 1) + 1: stride]


def conv2d(x: Array, kernel: Array, stride: int, padding: str) -> Array:
    kh, kw, _, cout = kernel.shape
    height, width, tap = _taps(_padded(x, kh, stride, padding), kh, kw, stride)
    out = np.zeros((x.shape[0], height, width, cout), dtype=np.float32)
    for row in range(kh):
        for col in range(kw):
            out += tap(row, col) @ kernel[row, col]
    return out


def depthwise_conv2d(x: Array, kernel: Array, stride: int, padding: str) -> Array:
    kh, kw = kernel.shape[:2]
    height, width, tap = _taps(_padded(x, kh, stride, padding), kh, kw, stride)
    out = np.zeros((x.shape[0], height, width, x.shape[3]), dtype=np.float32)
    for row in range(kh):
        for col in range(kw):
            out += tap(row, col) * kernel[row, col, :, 0]
    return out


def max_pool(x: Array, pool: int, stride: int, padding: str) -> Array:
    height, width, tap = _taps(_padded(x, pool, stride, padding, -np.inf), pool, pool, stride)
    out = np.full((x.shape[0], height, width, x.shape[3]), -np.inf, dtype=np.float32)
    for row in range(pool):
        for col in range(pool):
            np.maximum(out, tap(row, col), out=out)
    return out


def softmax(x: Array) -> Array:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _square(value: Any) -> int:
    a, b = value
    if a != b:
        raise ModelError(f"non-square kernel, stride or pool {value} is not supported")
    return int(a)


class KerasGraph:
    """Forward pass of the model in ``path`` on (N, H, W, C) float32 inputs."""

    def __init__(self, path: Path) -> None:
        import h5py

        try:
            with h5py.File(path, "r") as file:
                config = json.loads(file.attrs["model_config"])
                group = file["model_weights"]
                self.layers = [self._build(layer, group) for layer in config["config"]["layers"]]
                self.inputs = [name for name, _, _ in config["config"]["input_layers"]]
                self.outputs = [name for name, _, _ in config["config"]["output_layers"]]
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise ModelError(f"{path}: not a readable Keras model ({exc})") from None
        if len(self.inputs) != 1 or len(self.outputs) != 1:
            raise ModelError(f"{path}: only single-input, single-output models are supported")

    @staticmethod
    def _weights(group: Any, name: str) -> dict[str, Array]:
        found: dict[str, Array] = {}
        if name in group:
            group[name].visititems(lambda key, item: found.__setitem__(key.rsplit("/", 1)[-1].split(":")[0],
                                                                        np.asarray(item, dtype=np.float32))
                                   if hasattr(item, "shape") else None)
        return found

    def _build(self, layer: dict[str, Any], group: Any) -> tuple[str, list[str], Callable[..., Array]]:
        kind, config, name = layer["class_name"], layer["config"], layer["name"]
        inbound = [node[0] for node in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
        w = self._weights(group, name)
        if kind == "InputLayer":
            return name, inbound, lambda x: x
        if kind in ("Conv2D", "SeparableConv2D"):
            stride, padding = _square(config["strides"]), config["padding"]
            if config.get("activation", "linear") != "linear" or tuple(config.get("dilation_rate", (1, 1))) != (1, 1):
                raise ModelError(f"layer {name}: fused activation or dilation is not supported")
            bias = w.get("bias")
            if kind == "Conv2D":
                def conv(x: Array) -> Array:
                    return conv2d(x, w["kernel"], stride, padding)
            else:
                def conv(x: Array) -> Array:
                    return depthwise_conv2d(x, w["depthwise_kernel"], stride, padding) @ w["pointwise_kernel"][0, 0]
            return name, inbound, (lambda x: conv(x) + bias) if bias is not None else conv
        if kind == "BatchNormalization":
            epsilon = float(config.get("epsilon", nn.KERAS_BN_EPSILON))
            return name, inbound, lambda x: nn.batch_norm(x, w["gamma"], w["beta"], w["moving_mean"],
                                                          w["moving_variance"], epsilon)
        if kind == "Activation":
            activations = {"relu": nn.relu, "softmax": softmax, "linear": lambda x: x}
            if config["activation"] not in activations:
                raise ModelError(f"layer {name}: activation {config['activation']!r} is not supported")
            return name, inbound, activations[config["activation"]]
        if kind == "MaxPooling2D":
            pool, stride = _square(config["pool_size"]), _square(config["strides"])
            return name, inbound, lambda x: max_pool(x, pool, stride, config["padding"])
        if kind == "Add":
            return name, inbound, lambda *xs: np.sum(xs, axis=0)
        if kind == "GlobalAveragePooling2D":
            return name, inbound, lambda x: x.mean(axis=(1, 2))
        raise ModelError(f"Keras layer {kind} ({name}) is not supported")

    def __call__(self, x: Array) -> Array:
        values: dict[str, Array] = {self.inputs[0]: np.asarray(x, dtype=np.float32)}
        for name, inbound, forward in self.layers:
            if inbound:  # the config lists layers in an order where inputs come first
                values[name] = forward(*(values[i] for i in inbound))
        return values[self.outputs[0]]
