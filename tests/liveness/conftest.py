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
