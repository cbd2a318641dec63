"""The numpy Keras layers against independent implementations (OpenCV correlation, explicit loops)."""
from __future__ import annotations

import numpy as np
import pytest

from facetrust.forensics import keras_nn as nn


@pytest.mark.parametrize("kernel_size,dilation,size", [(3, 1, 9), (5, 1, 8), (3, 2, 10), (3, 3, 11), (1, 1, 5)])
def test_conv2d_same_matches_opencv_correlation(kernel_size: int, dilation: int, size: int) -> None:
    import cv2

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, size, size, 3)).astype(np.float32)
    kernel = rng.normal(size=(kernel_size, kernel_size, 3, 4)).astype(np.float32)
    bias = rng.normal(size=4).astype(np.float32)
    got = nn.conv2d_same(x, kernel, bias, dilation)
    # a dilated kernel = the kernel spread out with zeros; 'same' with an odd span pads equally
    span = dilation * (kernel_size - 1) + 1
    want = np.zeros((2, size, size, 4), np.float32)
    for out in range(4):
        for channel in range(3):
            spread = np.zeros((span, span), np.float32)
            spread[::dilation, ::dilation] = kernel[:, :, channel, out]
            for n in range(2):
                want[n, :, :, out] += cv2.filter2D(x[n, :, :, channel], -1, spread, borderType=cv2.BORDER_CONSTANT)
        want[..., out] += bias[out]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_max_pool_same_pads_like_tensorflow() -> None:
    x = np.arange(2 * 5 * 5 * 1, dtype=np.float32).reshape(2, 5, 5, 1)
    got = nn.max_pool_same(x, 2)
    # out = ceil(5/2) = 3, total padding 1, all of it after: the last row/column pool alone
    assert got.shape == (2, 3, 3, 1)
    assert got[0, 0, 0, 0] == x[0, :2, :2, 0].max()
    assert got[0, 2, 2, 0] == x[0, 4, 4, 0]
    assert nn.max_pool_same(np.zeros((1, 32, 32, 2), np.float32), 4).shape == (1, 8, 8, 2)


def test_batch_norm_uses_keras_epsilon() -> None:
    x = np.ones((1, 1, 1, 1), np.float32)
    out = nn.batch_norm(x, np.ones(1), np.zeros(1), np.zeros(1), np.zeros(1))
    assert out[0, 0, 0, 0] == pytest.approx(1 / np.sqrt(1e-3))
