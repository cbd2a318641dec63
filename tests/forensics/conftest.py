"""Shared fixtures of the forgery tests: checkers (SBI, MesoNet) sharing one YuNet analyzer."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def forgery_analyzer(shared):
    from facetrust import FaceAnalyzer

    return FaceAnalyzer(detector="yunet")


@pytest.fixture(scope="session")
def sbi_checker(forgery_analyzer):
    from facetrust.forensics.checker import ForgeryChecker

    return ForgeryChecker("sbi", analyzer=forgery_analyzer)


@pytest.fixture(scope="session")
def utkface(shared) -> Path:
    """UTKFace's colour face crops with age, gender and race labels (research use only)."""
    root = shared / "data" / "utkface"
    if not (root / "labels.csv").is_file():
        pytest.skip(f"{root} not found")
    return root


@pytest.fixture(scope="session")
def deepfake_dir(shared) -> Path:
    return shared / "data" / "deepfake"


@pytest.fixture(scope="session")
def hamilton_clip(faces_dir) -> Path:
    return faces_dir / "examples" / "short_hamilton_clip.mp4"
