"""The few Keras layers MesoNet uses, in numpy, with Keras' exact conventions.

Tensors are NHWC float32 (Keras ``channels_last``). ``padding='same'`` follows
TensorFlow: the total padding ``max((out - 1) * stride + k_eff - size, 0)`` is
split with the smaller half before (top/left). A dilated kernel of size ``k``
spans ``k_eff = d * (k - 1) + 1`` pixels. Keras' BatchNormalization default
epsilon is 1e-3 (not PyTorch's 1e-5).
"""
from __future__ import annotations

import numpy as np

KERAS_BN_EPSILON = 1e-3


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv2d_same(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, dilation: int = 1) -> np.ndarray:
    """Stride-1 'same' convolution. ``x``: (N, H, W, Cin); ``kernel``: Keras (kh, kw, Cin, Cout).

    Accumulates one (pixels x Cin) @ (Cin x Cout) product per kernel tap over shifted views of
    the padded input: no im2col buffer (kh * kw times the input), so it stays cache-friendly.
    """
    kh, kw, cin, cout = kernel.shape
    if kh == 1 and kw == 1:
        return x @ kernel.reshape(cin, cout) + bias
    top, bottom = _same_padding(x.shape[1], dilation * (kh - 1) + 1, 1)
    left, right = _same_padding(x.shape[2], dilation * (kw - 1) + 1, 1)
    padded = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    n, height, width = x.shape[:3]
    out = np.broadcast_to(bias, (n, height, width, cout)).astype(np.float32)
    for row in range(kh):
        for col in range(kw):
            y, x0 = row * dilation, col * dilation
            out += padded[:, y: y + height, x0: x0 + width] @ kernel[row, col]
    return out


def batch_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, mean: np.ndarray, variance: np.ndarray,
               epsilon: float = KERAS_BN_EPSILON) -> np.ndarray:
    scale = gamma / np.sqrt(variance + epsilon)
    return x * scale + (beta - mean * scale)


def max_pool_same(x: np.ndarray, pool: int) -> np.ndarray:
    """Keras ``MaxPooling2D(pool_size=(pool, pool), padding='same')`` (stride = pool)."""
    n, height, width, channels = x.shape
    top, bottom = _same_padding(height, pool, pool)
    left, right = _same_padding(width, pool, pool)
    if top or bottom or left or right:
        x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=-np.inf)
    h_out, w_out = x.shape[1] // pool, x.shape[2] // pool
    return x.reshape(n, h_out, pool, w_out, pool, channels).max(axis=(2, 4))


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def leaky_relu(x: np.ndarray, alpha: float) -> np.ndarray:
    return np.where(x >= 0, x, alpha * x)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
