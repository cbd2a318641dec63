"""One liveness checker (default: minifasnet + YuNet) shared by the liveness tests."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def checker(shared):
    from facetrust.liveness import LivenessChecker

    return LivenessChecker()


@pytest.fixture(scope="session")
def spoof_dir(shared) -> Path:
    return shared / "data" / "spoof"


@pytest.fixture(scope="session")
def faceless_video(tmp_path_factory) -> Path:
    """5 frames (MJPG, 5 fps) of a real photo without a face: skimage's coffee cup."""
    import cv2
    from skimage import data

    frame = cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR)
    path = tmp_path_factory.mktemp("video") / "coffee.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (frame.shape[1], frame.shape[0]))
    for _ in range(5):
        writer.write(frame)
    writer.release()
    return path
