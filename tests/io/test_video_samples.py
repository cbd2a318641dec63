"""The frame-sample estimate that sizes video progress bars matches what read_frames yields."""
from __future__ import annotations

import pytest

from facetrust.io.video import read_frames, sample_count


@pytest.mark.parametrize("every, max_frames", [(0.0, None), (0.3, None), (1.0, None), (0.2, 20)])
def test_sample_count_matches_frames_read(faces_dir, every, max_frames) -> None:
    clip = faces_dir / "examples" / "short_hamilton_clip.mp4"
    assert sample_count(clip, every, max_frames) == sum(1 for _ in read_frames(clip, every, max_frames))


def test_sample_count_is_close_on_dfdc_videos(shared) -> None:
    # DFDC files: 300 frames at 29.97 fps, so the container's duration is 10.01 s and every
    # fraction of a second gives at most one sample more than the stream yields.
    for clip in sorted((shared / "data" / "deepfake").rglob("*.mp4")):
        for every in (0.2, 0.3, 0.5):
            estimate, actual = sample_count(clip, every), sum(1 for _ in read_frames(clip, every))
            assert actual <= estimate <= actual + 1
