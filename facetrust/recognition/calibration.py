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
from pathlib import Path
from typing import Any

import numpy as np

from facetrust.defaults import DEFAULT_FMR
from facetrust.errors import ConfigError

FMR_GRID = (1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 1e-1)
#: A threshold is only stated where at least this many impostor scores lie above it.
MIN_TAIL = 50


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


def load_calibration(recognizer: str) -> Calibration:
    """The calibration a registered recognizer declares; ConfigError when it declares none or the file is missing.
    A locally registered recognizer (facetrust.recognition.local) names its file in ``calibration_file``."""
    from facetrust.recognition import RECOGNIZERS

    cls = RECOGNIZERS.get_class(recognizer)
    name = getattr(cls, "calibration", None)
    if not name:
        raise ConfigError(f"recognizer {recognizer!r} declares no calibrated thresholds (class attribute "
                          "calibration; measure them with bench/calibrate_thresholds.py)")
    local = getattr(cls, "calibration_file", None)
    if not local:
        return _packaged_calibration(recognizer, name)
    path = Path(local)
    if not path.is_file():
        raise ConfigError(f"recognizer {recognizer!r}: its calibration file {path} is missing")
    return _read_calibration(str(path), path.stat().st_mtime_ns, True)


@lru_cache(maxsize=None)
def _packaged_calibration(recognizer: str, name: str) -> Calibration:
    """A calibration shipped in the package: read once per process (a gallery asks for its
    threshold on every search; the lookup cost 0.15 ms per query)."""
    path = resources.files("facetrust.recognition").joinpath("calibration", f"{name}.json")
    if not path.is_file():
        raise ConfigError(f"recognizer {recognizer!r}: its calibration file calibration/{name}.json is missing")
    return _read_calibration(str(path), 0, False)


@lru_cache(maxsize=None)
def _read_calibration(path: str, mtime_ns: int, local: bool) -> Calibration:
    """``mtime_ns`` is in the key so that re-registering a local model is seen by a running process."""
    source = Path(path) if local else resources.files("facetrust.recognition").joinpath(
        "calibration", Path(path).name)
    raw = json.loads(source.read_text())
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


def pair_scores(vectors: np.ndarray, labels: np.ndarray, block: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Scores of all i<j pairs of L2-normalised ``vectors``, split into impostor (different
    ``labels``) and genuine (same label)."""
    n = len(vectors)
    impostor = np.empty(n * (n - 1) // 2, dtype=np.float32)
    genuine: list[np.ndarray] = [np.zeros(0, dtype=np.float32)]
    filled = 0
    for start in range(0, n, block):
        rows = slice(start, min(n, start + block))
        scores = vectors[rows] @ vectors.T
        for offset, row in enumerate(scores):
            i = start + offset
            upper = row[i + 1 :]
            same = labels[i + 1 :] == labels[i]
            genuine.append(upper[same])
            chunk = upper[~same]
            impostor[filled : filled + len(chunk)] = chunk
            filled += len(chunk)
    return impostor[:filled], np.concatenate(genuine)


def calibrate_scores(impostor: np.ndarray, genuine: np.ndarray) -> dict[str, Any]:
    """Thresholds at the FMRs of ``FMR_GRID`` that the number of impostor scores supports (at least
    ``MIN_TAIL`` of them above the threshold), the FNMR of ``genuine`` there, and the impostor
    mean and standard deviation: the fields of a calibration file other than its provenance."""
    impostor = np.sort(np.asarray(impostor, dtype=np.float32))
    genuine = np.asarray(genuine, dtype=np.float32)
    fmrs, thresholds, fnmrs = [], [], []
    for fmr in FMR_GRID:
        tail = int(np.floor(fmr * len(impostor)))
        if tail < MIN_TAIL:
            continue
        # Smallest threshold with at most `tail` impostor scores >= it.
        threshold = float(np.nextafter(impostor[-tail - 1], np.float32(np.inf)))
        fmrs.append(fmr)
        thresholds.append(round(threshold, 6))
        fnmrs.append(round(float(np.mean(genuine < threshold)), 6) if len(genuine) else None)
    if not fmrs:
        raise ConfigError(f"{len(impostor):,} impostor pairs are too few to calibrate: FMR {FMR_GRID[-1]:g} needs "
                          f"at least {int(np.ceil(MIN_TAIL / FMR_GRID[-1])):,}")
    return {
        "impostor_pairs": int(len(impostor)),
        "genuine_pairs": int(len(genuine)),
        "fmr": fmrs,
        "threshold": thresholds,
        "fnmr": fnmrs,
        # Impostor score statistics: what score-level fusion z-normalises with.
        "impostor_mean": round(float(impostor.mean(dtype=np.float64)), 6),
        "impostor_std": round(float(impostor.std(dtype=np.float64)), 6),
    }
