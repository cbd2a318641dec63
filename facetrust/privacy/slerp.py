"""``slerp``: rotate the template on the hypersphere towards a keyed noise direction, then drop keyed groups.

After SlerpFace (Zhong et al., AAAI 2024): the unit template ``x`` is moved by the angle
``alpha`` along the great circle towards a keyed noise direction ``n`` (spherical
interpolation), and a keyed subset of dimension groups is dropped. Matching is cosine
in the protected domain. One addition: ``x`` is first multiplied by a keyed random
rotation. Spherical interpolation towards a fixed direction keeps ``x``'s coordinates
(scaled), so without the rotation (and without dropout, whose keyed choice of kept
dimensions also misaligns coordinates across keys) the same face protected under two
keys still matches; the rotation makes cross-key scores of the same face look like
impostor scores whatever the dropout (tests/privacy, ``rotate=False`` ablation).
No centring: with ``alpha = 0`` and no dropout the scheme is an exact isometry of the
recognizer's cosine (centring cost dlib-resnet 26 points of TAR@FAR=1e-3 on LFW folds 1-5).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from facetrust.errors import ConfigError
from facetrust.privacy.base import TemplateProtector, keyed_rotation
from facetrust.privacy.keys import ProtectionKey

#: Defaults for direct use; a protected gallery takes the parameters chosen for its recognizer on
#: LFW View-2 folds 1-5 (facetrust/privacy/calibration.json, rule in docs/privacy.md).
DEFAULT_ALPHA = 0.6
DEFAULT_DROP = 0.25


class SlerpProtector(TemplateProtector):
    scheme = "slerp"

    def __init__(self, key: ProtectionKey, dim: int, recognizer: str | None = None, alpha: float = DEFAULT_ALPHA, groups: int = 16,
                 drop: float = DEFAULT_DROP, rotate: bool = True) -> None:
        super().__init__(key, dim, recognizer)
        if not 0.0 <= alpha < np.pi / 2:
            raise ConfigError(f"slerp: alpha must be in [0, pi/2) radians, got {alpha}")
        if groups < 1 or dim % groups:
            raise ConfigError(f"slerp: groups must divide the dimension {dim}, got {groups}")
        dropped = int(round(drop * groups))
        if not 0.0 <= drop < 1.0 or dropped >= groups:
            raise ConfigError(f"slerp: drop must leave at least one of {groups} groups, got {drop}")
        self.alpha, self.groups, self.drop, self.rotate = float(alpha), int(groups), float(drop), bool(rotate)
        self._rotation = keyed_rotation(key, dim, "slerp/rotation") if rotate else None
        noise = key.rng("slerp/noise").standard_normal(dim)
        self._noise = noise / np.linalg.norm(noise)
        order = key.rng("slerp/groups").permutation(dim).reshape(groups, dim // groups)
        kept_groups = np.sort(key.rng("slerp/dropout").permutation(groups)[dropped:])
        self._kept = np.sort(order[kept_groups].ravel())

    @property
    def out_dim(self) -> int:
        return len(self._kept)

    def params(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "groups": self.groups, "drop": self.drop, "rotate": self.rotate}

    def _transform(self, unit: np.ndarray) -> np.ndarray:
        x = unit @ self._rotation.T if self._rotation is not None else unit
        # Unit tangent towards the noise direction: its component orthogonal to x.
        towards = self._noise[None, :] - (x @ self._noise)[:, None] * x
        length = np.linalg.norm(towards, axis=1, keepdims=True)
        towards = np.divide(towards, length, out=np.zeros_like(towards), where=length > 1e-12)
        moved = np.cos(self.alpha) * x + np.sin(self.alpha) * towards
        return moved[:, self._kept]
