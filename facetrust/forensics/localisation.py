"""Temporal localisation: suspicious segments of a video from per-frame forgery scores.

Per-frame scores of the sampled frames are smoothed with a running median over
:data:`SMOOTHING_WINDOW` samples (one outlier frame neither makes nor breaks a
segment); runs of smoothed scores >= threshold become segments, and runs separated
by a single sample below it are merged. Each segment reports its first and last
sampled frame index and time, and its mean and peak raw score.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

SMOOTHING_WINDOW = 3


@dataclass(frozen=True)
class Segment:
    start_frame: int
    end_frame: int
    start_time: float
    end_time: float
    mean_score: float
    peak_score: float
    samples: int

    def to_dict(self) -> dict[str, Any]:
        return {"start_frame": self.start_frame, "end_frame": self.end_frame,
                "start_time": round(self.start_time, 3), "end_time": round(self.end_time, 3),
                "mean_score": round(self.mean_score, 6), "peak_score": round(self.peak_score, 6),
                "samples": self.samples}


def running_median(values: np.ndarray, window: int = SMOOTHING_WINDOW) -> np.ndarray:
    """Centred running median over an odd ``window``; the ends repeat the first/last value."""
    half = window // 2
    padded = np.pad(np.asarray(values, dtype=np.float64), half, mode="edge")
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1), axis=1)


def suspicious_segments(frames: Sequence[int], times: Sequence[float], scores: Sequence[float],
                        threshold: float, window: int = SMOOTHING_WINDOW) -> list[Segment]:
    """Segments where the smoothed per-frame score reaches ``threshold`` (inputs in time order)."""
    scores_arr = np.asarray(scores, dtype=np.float64)
    if not (len(frames) == len(times) == len(scores_arr)):
        raise ValueError("frames, times and scores must have the same length")
    if len(scores_arr) == 0:
        return []
    above = running_median(scores_arr, window) >= threshold
    # close one-sample gaps: a lone sample below threshold between two runs
    for i in range(1, len(above) - 1):
        if not above[i] and above[i - 1] and above[i + 1]:
            above[i] = True
    segments, start = [], None
    for i, flag in enumerate([*above, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            chunk = scores_arr[start:i]
            segments.append(Segment(int(frames[start]), int(frames[i - 1]), float(times[start]), float(times[i - 1]),
                                    float(chunk.mean()), float(chunk.max()), i - start))
            start = None
    return segments
