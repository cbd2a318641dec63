"""Verification thresholds calibrated at stated false-match rates.

Each recognizer (and each fusion ``fusion:a+b``, as ``fusion_a+b``) declares (class attribute ``calibration``) which shipped
``calibration/<calibration>.json`` holds its thresholds: the impostor-score
quantiles measured on LFW (all cross-identity pairs of the 13,233 LFW-a
images, see docs/recognition.md and ``bench/calibrate_thresholds.py``). The
threshold for a requested FMR is interpolated on a log-FMR grid; FMRs below
what the number of impostor pairs can support are refused.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from facetrust.defaults import DEFAULT_FMR
from facetrust.errors import ConfigError


@dataclass(frozen=True)
class Calibration:
    recognizer: str
    detector: str
    dataset: str
    impostor_pairs: int
    genuine_pairs: int
    fmr: tuple[float, ...]  # ascending
    threshold: tuple[float, ...]  # thresholds at those FMRs (descending)
    fnmr: tuple[float, ...]  # FNMR on the genuine pairs at those thresholds
    #: Impostor score mean and standard deviation (what score fusion normalises with);
    #: None in calibrations made before they were recorded.
    impostor_mean: float | None = None
    impostor_std: float | None = None

    @property
    def min_fmr(self) -> float:
        return self.fmr[0]

    def threshold_at(self, fmr: float = DEFAULT_FMR) -> float:
        if isinstance(fmr, bool) or not isinstance(fmr, (int, float)) or not 0.0 < fmr < 1.0:
            raise ConfigError(f"FMR must be a number in (0, 1), got {fmr!r}")
        if fmr < self.min_fmr:
            raise ConfigError(
                f"{self.recognizer}: FMR {fmr:g} is below the smallest calibrated FMR {self.min_fmr:g} "
                f"({self.impostor_pairs:,} impostor pairs measured)"
            )
        if fmr > self.fmr[-1]:
            raise ConfigError(f"{self.recognizer}: FMR {fmr:g} is above the largest calibrated FMR {self.fmr[-1]:g}")
        return float(np.interp(np.log10(fmr), np.log10(self.fmr), self.threshold))


def calibration_filename(recognizer: str) -> str:
    """``fusion:a+b`` -> ``fusion_a+b.json`` (no ':' in file names, for Windows)."""
    return recognizer.replace(":", "_") + ".json"


@lru_cache(maxsize=None)
def load_calibration(recognizer: str) -> Calibration:
    """The calibration a registered recognizer declares; ConfigError when it declares none or the file is missing."""
    from facetrust.recognition import RECOGNIZERS

    name = getattr(RECOGNIZERS.get_class(recognizer), "calibration", None)
    if not name:
        raise ConfigError(f"recognizer {recognizer!r} declares no calibrated thresholds (class attribute "
                          "calibration; measure them with bench/calibrate_thresholds.py)")
    path = resources.files("facetrust.recognition").joinpath("calibration", f"{name}.json")
    if not path.is_file():
        raise ConfigError(f"recognizer {recognizer!r}: its calibration file calibration/{name}.json is missing")
    raw = json.loads(path.read_text())
    return Calibration(
        recognizer=raw["recognizer"],
        detector=raw["detector"],
        dataset=raw["dataset"],
        impostor_pairs=raw["impostor_pairs"],
        genuine_pairs=raw["genuine_pairs"],
        fmr=tuple(raw["fmr"]),
        threshold=tuple(raw["threshold"]),
        fnmr=tuple(raw["fnmr"]),
        impostor_mean=raw.get("impostor_mean"),
        impostor_std=raw.get("impostor_std"),
    )
