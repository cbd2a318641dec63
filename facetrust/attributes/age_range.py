"""The age range: a split-conformal interval around an age model's estimate (docs/attributes.md).

For an estimate a, the range is [a + q_low * s, a + q_high * s] with scale s = a + offset (errors grow
with age; ``offset`` None means s = 1, a constant width), rounded inwards to whole years (ages are
whole years, so it holds the same true ages) and clipped at 0. q_low and q_high are the finite-sample-corrected (1 - level)/2 and (1 + level)/2
quantiles of the signed scaled residuals (true - a) / s on a calibration set; the offset is the one
of :data:`OFFSETS` that gives the narrowest mean range there. If a face is drawn like the
calibration faces, its true age is in the range with probability >= ``level``; for other data, and
for any one group, it need not be: coverage is measured on a held-out split and per group.
The fits ship in ``facetrust/models/attributes/age_range.json``, one per age model.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from facetrust.errors import ModelNotAvailableError

CALIBRATION_FILE = "age_range.json"
LEVEL = 0.8
#: Scale offsets tried when fitting (None: constant width).
OFFSETS: tuple[float | None, ...] = (0.0, 2.0, 5.0, 10.0, 20.0, 40.0, None)


@dataclass(frozen=True)
class AgeRange:
    level: float
    offset: float | None
    q_low: float
    q_high: float

    def bounds(self, estimates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Whole-year (low, high) ranges for an array of age estimates."""
        estimates = np.asarray(estimates, dtype=np.float64)
        scale = np.ones_like(estimates) if self.offset is None else estimates + self.offset
        # Ages are whole years, so rounding inwards keeps exactly the ages the real interval holds.
        low = np.maximum(0.0, np.ceil(estimates + self.q_low * scale))
        return low.astype(int), np.maximum(low, np.floor(estimates + self.q_high * scale)).astype(int)


def _quantiles(residuals: np.ndarray, level: float) -> tuple[float, float]:
    """Split-conformal one-sided quantiles: each tail holds at most (1 - level)/2 of new faces."""
    ordered = np.sort(residuals)
    n, tail = len(ordered), (1.0 - level) / 2.0
    low_rank, high_rank = math.floor((n + 1) * tail), math.ceil((n + 1) * (1.0 - tail))
    if low_rank < 1 or high_rank > n:
        raise ValueError(f"{n} calibration faces are too few for a {level:.0%} range")
    return float(ordered[low_rank - 1]), float(ordered[high_rank - 1])


def fit_age_range(true: np.ndarray, estimates: np.ndarray, level: float = LEVEL,
                  offsets: tuple[float | None, ...] = OFFSETS) -> tuple[AgeRange, dict[str, float]]:
    """The narrowest of the conformal ranges over ``offsets``, and the mean width each gave."""
    true, estimates = np.asarray(true, dtype=np.float64), np.asarray(estimates, dtype=np.float64)
    widths: dict[str, float] = {}
    best: AgeRange | None = None
    for offset in offsets:
        scale = np.ones_like(estimates) if offset is None else estimates + offset
        if (scale <= 0).any():
            continue
        candidate = AgeRange(level, offset, *_quantiles((true - estimates) / scale, level))
        low, high = candidate.bounds(estimates)
        widths[str(offset)] = round(float((high - low).mean()), 3)
        if best is None or widths[str(offset)] < widths[str(best.offset)]:
            best = candidate
    assert best is not None
    return best, widths


def age_range_record(fit: AgeRange, **provenance: Any) -> dict[str, Any]:
    """A JSON entry for the calibration file: the fit and where it came from."""
    return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(fit).items()} | provenance


@lru_cache(maxsize=None)
def _calibrations() -> dict[str, Any]:
    path = resources.files("facetrust").joinpath("models", "attributes", CALIBRATION_FILE)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelNotAvailableError(f"{path}: cannot read the age-range calibration ({exc}; reinstall facetrust)") from None


def load_age_range(model: str) -> AgeRange:
    """The packaged range calibration of the age model registered as ``model``."""
    entry = _calibrations().get(model)
    if entry is None:
        raise ModelNotAvailableError(f"no age-range calibration for {model!r} in {CALIBRATION_FILE}")
    return AgeRange(entry["level"], entry["offset"], entry["q_low"], entry["q_high"])
