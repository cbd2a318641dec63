"""MesoNet (Afchar et al., WIFS 2018): Meso4 and MesoInception4 in numpy, weights from
the authors' Keras ``.h5`` files read with h5py — no TensorFlow.

The architecture is ``classifiers.py`` of DariusAf/MesoNet. Keras names layers in
creation order (``conv2d_5``, ``conv2d_6`` …, numbering continues across models built
in one session), so layers are matched by the **numeric order** of their names, never
by the string order of HDF5 groups (``conv2d_10`` < ``conv2d_2``). In an inception
block the convolutions are created as: branch 1 (1x1), branch 2 (1x1, 3x3), branch 3
(1x1, 3x3 dilation 2), branch 4 (1x1, 3x3 dilation 3); outputs concatenated in that
order. Input: 256x256 RGB / 255; the sigmoid output is P(real) (``flow_from_directory``
sorts the class folders ``df`` = 0, ``real`` = 1), so the forgery score is 1 - output.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from facetrust.errors import ModelError
from facetrust.forensics import keras_nn as nn
from facetrust.forensics.base import ForgeryScores
from facetrust.forensics.crop import mesonet_crop
from facetrust.zoo import model_file

INPUT_SIZE = 256
_INCEPTION_WIDTHS = ((1, 4, 4, 2), (2, 4, 4, 2))  # (a, b, c, d) of the two InceptionLayer calls


def _numbered(group: Any, prefix: str) -> list[dict[str, np.ndarray]]:
    """Weights of every layer named ``{prefix}_N`` in creation order, as {short name: array}."""
    names = [n for n in group if re.fullmatch(rf"{prefix}_\d+", n)]
    layers = []
    for name in sorted(names, key=lambda n: int(n.rsplit("_", 1)[1])):
        weights: dict[str, np.ndarray] = {}
        group[name].visititems(lambda key, item: weights.__setitem__(key.rsplit("/", 1)[-1].split(":")[0],
                                                                      np.asarray(item, dtype=np.float32))
                               if hasattr(item, "shape") else None)
        layers.append(weights)
    return layers


def load_keras_weights(path: Path) -> dict[str, list[dict[str, np.ndarray]]]:
    import h5py

    try:
        with h5py.File(path, "r") as file:
            group = file["model_weights"] if "model_weights" in file else file
            return {kind: _numbered(group, kind) for kind in ("conv2d", "batch_normalization", "dense")}
    except OSError as exc:
        raise ModelError(f"{path}: cannot read Keras weights ({exc})") from None


class MesoNetModel:
    """Forward pass of Meso4 / MesoInception4 on a batch of (N, 256, 256, 3) float32 in [0, 1]."""

    def __init__(self, weights: dict[str, list[dict[str, np.ndarray]]], inception: bool) -> None:
        self.inception = inception
        convs, norms, dense = weights["conv2d"], weights["batch_normalization"], weights["dense"]
        expected = (14 + 2, 4, 2) if inception else (4, 4, 2)
        if (len(convs), len(norms), len(dense)) != expected:
            raise ModelError(f"{'MesoInception4' if inception else 'Meso4'} needs {expected} conv/bn/dense layers, "
                             f"the file has {(len(convs), len(norms), len(dense))}")
        self.convs, self.norms, self.dense = convs, norms, dense

    def _conv(self, x: np.ndarray, index: int, dilation: int = 1) -> np.ndarray:
        layer = self.convs[index]
        return nn.relu(nn.conv2d_same(x, layer["kernel"], layer["bias"], dilation))

    def _norm(self, x: np.ndarray, index: int) -> np.ndarray:
        layer = self.norms[index]
        return nn.batch_norm(x, layer["gamma"], layer["beta"], layer["moving_mean"], layer["moving_variance"])

    def _inception(self, x: np.ndarray, first: int) -> np.ndarray:
        branch1 = self._conv(x, first)
        branch2 = self._conv(self._conv(x, first + 1), first + 2)
        branch3 = self._conv(self._conv(x, first + 3), first + 4, dilation=2)
        branch4 = self._conv(self._conv(x, first + 5), first + 6, dilation=3)
        return np.concatenate([branch1, branch2, branch3, branch4], axis=-1)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """P(real) per image, shape (N,)."""
        if self.inception:
            x = nn.max_pool_same(self._norm(self._inception(x, 0), 0), 2)
            x = nn.max_pool_same(self._norm(self._inception(x, 7), 1), 2)
            x = nn.max_pool_same(self._norm(self._conv(x, 14), 2), 2)
            x = nn.max_pool_same(self._norm(self._conv(x, 15), 3), 4)
        else:
            for index, pool in enumerate((2, 2, 2, 4)):
                x = nn.max_pool_same(self._norm(self._conv(x, index), index), pool)
        x = x.reshape(len(x), -1)  # channels-last flatten, as Keras' Flatten
        hidden = nn.leaky_relu(x @ self.dense[0]["kernel"] + self.dense[0]["bias"], 0.1)  # dropout: identity
        return nn.sigmoid(hidden @ self.dense[1]["kernel"] + self.dense[1]["bias"])[:, 0]


class MesoNetDetector:
    """One MesoNet weight file from the model zoo; forgery score = 1 - P(real)."""

    name = "mesonet"
    zoo_models: tuple[str, ...] = ("mesoinception-df",)
    inception = True
    #: Trained and run on RGB: a grayscale face is out of its domain.
    needs_colour = True

    def __init__(self) -> None:
        self.model = MesoNetModel(load_keras_weights(model_file(self.zoo_models[0])), self.inception)

    def crop(self, image: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return mesonet_crop(image, landmarks, INPUT_SIZE)

    def score_crops(self, crops: np.ndarray) -> np.ndarray:
        """Forgery scores of (N, 256, 256, 3) uint8 RGB MesoNet crops."""
        return 1.0 - self.model(crops.astype(np.float32) / 255.0).astype(np.float64)

    def predict(self, image: np.ndarray, landmarks: np.ndarray) -> ForgeryScores:
        crop, crop_to_image = self.crop(image, landmarks)
        return ForgeryScores(float(self.score_crops(crop[None])[0]), None, crop_to_image, INPUT_SIZE)


class Meso4DF(MesoNetDetector):
    name, zoo_models, inception = "meso4-df", ("meso4-df",), False


class Meso4F2F(MesoNetDetector):
    name, zoo_models, inception = "meso4-f2f", ("meso4-f2f",), False


class MesoInceptionDF(MesoNetDetector):
    name, zoo_models, inception = "mesoinception-df", ("mesoinception-df",), True


class MesoInceptionF2F(MesoNetDetector):
    name, zoo_models, inception = "mesoinception-f2f", ("mesoinception-f2f",), True
