"""The numpy Keras layers of the expression model against direct per-pixel sums, and bad files."""
from __future__ import annotations

import numpy as np
import pytest

from facetrust.attributes.keras_graph import KerasGraph, conv2d, depthwise_conv2d, max_pool
from facetrust.errors import ModelError

RNG = np.random.default_rng(0)


def _direct_conv(x, kernel, stride, pad_before):
    """out[y, x] = sum over taps of the zero-padded input (TensorFlow's 'same' puts the smaller half before)."""
    kh, kw, _, cout = kernel.shape
    height = -(-x.shape[1] // stride)
    width = -(-x.shape[2] // stride)
    padded = np.pad(x, ((0, 0), (pad_before, kh), (pad_before, kw), (0, 0)))
    out = np.zeros((x.shape[0], height, width, cout))
    for i in range(height):
        for j in range(width):
            patch = padded[:, i * stride: i * stride + kh, j * stride: j * stride + kw]
            out[:, i, j] = np.einsum("nhwc,hwco->no", patch, kernel)
    return out


def test_convolutions_match_direct_sums():
    x = RNG.normal(size=(2, 9, 9, 3)).astype(np.float32)
    kernel = RNG.normal(size=(3, 3, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(conv2d(x, kernel, 1, "same"), _direct_conv(x, kernel, 1, 1), atol=1e-4)
    np.testing.assert_allclose(conv2d(x, kernel, 1, "valid"), _direct_conv(x, kernel, 1, 0)[:, :7, :7], atol=1e-4)
    pointwise = RNG.normal(size=(1, 1, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(conv2d(x, pointwise, 2, "same"), _direct_conv(x, pointwise, 2, 0), atol=1e-4)
    depthwise = RNG.normal(size=(3, 3, 3, 1)).astype(np.float32)
    per_channel = np.stack([_direct_conv(x[..., c: c + 1], depthwise[:, :, c: c + 1], 1, 1)[..., 0]
                            for c in range(3)], axis=-1)
    np.testing.assert_allclose(depthwise_conv2d(x, depthwise, 1, "same"), per_channel, atol=1e-4)


def test_max_pool_same_pads_after_with_minus_infinity():
    x = -np.abs(RNG.normal(size=(1, 6, 6, 2))).astype(np.float32)  # all negative: a zero pad would win
    pooled = max_pool(x, 3, 2, "same")
    assert pooled.shape == (1, 3, 3, 2)
    assert pooled[0, 2, 2, 0] == x[0, 4:6, 4:6, 0].max()  # the last window holds 2x2 real values
    assert pooled[0, 0, 0, 1] == x[0, 0:3, 0:3, 1].max()


def test_not_a_keras_model_is_a_model_error(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(ModelError):
        KerasGraph(bad)
