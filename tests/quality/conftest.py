"""The quality models (learned, stability) and the explainable threshold were trained and calibrated
on the dlib pipeline (docs/quality.md), so these tests run it: the ``dlib`` preset."""
from __future__ import annotations

import pytest

from facetrust.analyzer import FaceAnalyzer


@pytest.fixture(scope="session")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer(preset="dlib")
