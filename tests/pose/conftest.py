"""Fixtures of the pose tests; the photos and image helpers are in pose_images.py."""
from __future__ import annotations

import pytest

from facetrust.analyzer import FaceAnalyzer


@pytest.fixture(scope="module")
def yunet() -> FaceAnalyzer:
    return FaceAnalyzer(detector="yunet")
