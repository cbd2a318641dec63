"""Temporal localisation and the drift arithmetic on exact inputs."""
from __future__ import annotations

import numpy as np
import pytest

from facetrust.forensics.localisation import suspicious_segments
from facetrust.forensics.temporal import MIN_SAMPLES, identity_drift, normalised_shapes


def test_segments_smooth_single_outliers_and_merge_one_sample_gaps() -> None:
    frames = list(range(0, 100, 10))
    times = [f / 10 for f in frames]
    #          0    1    2    3    4    5    6    7    8    9
    scores = [0.1, 0.9, 0.1, 0.1, 0.8, 0.9, 0.2, 0.9, 0.7, 0.1]
    segments = suspicious_segments(frames, times, scores, threshold=0.5)
    # the lone 0.9 at sample 1 is smoothed away; samples 4..8 form one run (gap at 6 merged)
    assert [(s.start_frame, s.end_frame) for s in segments] == [(40, 80)]
    assert segments[0].start_time == 4.0 and segments[0].end_time == 8.0
    assert segments[0].peak_score == 0.9 and segments[0].samples == 5
    assert suspicious_segments([], [], [], 0.5) == []


def test_drift_needs_enough_samples_and_is_zero_for_a_static_face() -> None:
    points = np.array([[30, 40], [60, 40], [45, 55], [35, 70], [55, 70]], np.float64)
    vector = np.ones(128) / np.sqrt(128)
    short = identity_drift([vector] * (MIN_SAMPLES - 1), [points] * (MIN_SAMPLES - 1), 0.4)
    assert short.score is None and "at least" in short.reason and short.to_dict()["reason_code"] == "too_few_samples"
    static = identity_drift([vector] * 5, [points + 3 * i for i in range(5)], 0.4)  # moving, not deforming
    assert static.score == pytest.approx(0.0, abs=1e-9)


def test_normalised_shapes_remove_head_motion() -> None:
    points = np.array([[30, 40], [60, 40], [45, 55], [35, 70], [55, 70]], np.float64)
    angle = np.deg2rad(20)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = 2.0 * points @ rotation.T + 50
    shapes = normalised_shapes([points, moved])
    np.testing.assert_allclose(shapes[0], shapes[1], atol=1e-9)
