"""Shipped calibration of the quality methods: score scales and recommended thresholds.

``calibration/<method>.json`` (``<method>-<recognizer>.json`` for methods that
use a recognizer) is written by ``bench/quality_edc.py`` from the LFW training
folds (docs/quality.md). Percentile-scaled methods map their raw value through
``raw_quantiles``: the raw values at the 0th..100th percentiles of the
training faces, so a score of 20 means "worse than 80% of the training faces".
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from facetrust.errors import ConfigError


@dataclass(frozen=True)
class QualityCalibration:
    method: str
    recognizer: str | None
    threshold: float
    threshold_rule: str
    raw_quantiles: tuple[float, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def scale(self, raw: np.ndarray | float) -> np.ndarray | float:
        """Raw value(s) to the 0..100 score by the training-percentile map (monotone, clipped)."""
        if not self.raw_quantiles:
            raise ConfigError(f"quality method {self.method!r} has no percentile scale")
        grid = np.asarray(self.raw_quantiles, dtype=np.float64)
        percent = np.linspace(0.0, 100.0, len(grid))
        # Equal quantiles (ties in the training data) would make interp pick one end: average them.
        unique, inverse = np.unique(grid, return_inverse=True)
        centre = np.bincount(inverse, weights=percent) / np.bincount(inverse)
        return np.interp(raw, unique, centre, left=0.0, right=100.0)


def calibration_name(method: str, recognizer: str | None) -> str:
    return method if recognizer is None else f"{method}-{recognizer}"


@lru_cache(maxsize=None)
def load_quality_calibration(method: str, recognizer: str | None = None) -> QualityCalibration:
    """The shipped calibration of ``method`` (for ``recognizer`` where the method uses one)."""
    name = calibration_name(method, recognizer)
    path = resources.files("facetrust.quality").joinpath("calibration", f"{name}.json")
    if not path.is_file():
        target = f" for recognizer {recognizer!r}" if recognizer else ""
        raise ConfigError(f"quality method {method!r} is not calibrated{target} (no {name}.json); "
                          f"train a model with `facetrust quality train` and pass it as model=PATH")
    return parse_calibration(json.loads(path.read_text()), name)


def read_calibration_file(path: str | Path) -> QualityCalibration:
    """A calibration written by ``facetrust quality train`` (or any file in the shipped format)."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such quality model file") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable quality model ({exc})") from None
    return parse_calibration(raw, str(path))


def parse_calibration(raw: Any, name: str) -> QualityCalibration:
    if not isinstance(raw, dict) or not {"method", "threshold", "threshold_rule"} <= set(raw):
        raise ConfigError(f"{name}: not a quality calibration (needs method, threshold, threshold_rule)")
    known = {"method", "recognizer", "threshold", "threshold_rule", "raw_quantiles"}
    return QualityCalibration(raw["method"], raw.get("recognizer"), float(raw["threshold"]), raw["threshold_rule"],
                              tuple(raw.get("raw_quantiles", ())), {k: v for k, v in raw.items() if k not in known})
