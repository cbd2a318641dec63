"""Sampling frames from a video with OpenCV, with bounded memory (one frame at a time)."""
from __future__ import annotations

import os
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from facetrust.errors import ImageNotFoundError, ImageReadError, VideoError


@dataclass(frozen=True)
class VideoFrame:
    index: int
    time: float  # seconds from the start
    image: np.ndarray  # RGB uint8


def read_frames(path: str | Path, every_seconds: float = 1.0, max_frames: int | None = None) -> Iterator[VideoFrame]:
    """Yield one frame every ``every_seconds`` (0 = every frame), at most ``max_frames``.

    Uses the stream's timestamps, so variable-frame-rate files are sampled by
    time rather than by frame count.
    """
    import cv2

    _quiet_decoders(cv2)
    path = Path(path)
    if not path.is_file():
        raise ImageNotFoundError(f"{path}: no such file")
    if not os.access(path, os.R_OK):
        raise ImageReadError(f"{path}: cannot read (permission denied)")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise VideoError(f"{path}: cannot open as a video")
    try:
        index, yielded, next_time = 0, 0, 0.0
        while max_frames is None or yielded < max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            time = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if time + 1e-6 >= next_time:
                yield VideoFrame(index, time, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
                yielded += 1
                next_time = time + every_seconds
            index += 1
        if index == 0:
            raise VideoError(f"{path}: no decodable frames")
    finally:
        capture.release()


def _quiet_decoders(cv2: object) -> None:
    """FFmpeg and OpenCV print their own lines about a bad file on stderr ("moov atom not
    found"); our error names the file in one line, so theirs stay quiet unless the user sets
    OPENCV_FFMPEG_LOGLEVEL / OPENCV_LOG_LEVEL. FFmpeg reads the variable at the first capture."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    if "OPENCV_LOG_LEVEL" not in os.environ:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # type: ignore[attr-defined]


def sample_count(path: str | Path, every_seconds: float = 1.0, max_frames: int | None = None) -> int | None:
    """How many frames :func:`read_frames` will yield, estimated from the container's frame
    count and rate (for progress bars); None when the container does not say."""
    import cv2

    _quiet_decoders(cv2)
    capture = cv2.VideoCapture(str(path))
    try:
        frames, fps = capture.get(cv2.CAP_PROP_FRAME_COUNT), capture.get(cv2.CAP_PROP_FPS)
    finally:
        capture.release()
    if frames <= 0:
        return max_frames
    # samples at 0, every, 2 every, … while before the end of the stream
    count = int(frames) if every_seconds <= 0 or fps <= 0 else max(1, math.ceil(frames / fps / every_seconds - 1e-6))
    return count if max_frames is None else min(count, max_frames)
