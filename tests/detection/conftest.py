"""Fixtures shared by the detector tests."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def photos(shared: Path) -> Path:
    return shared / "data" / "faces"
