"""Shared fixtures: real images from PyPI packages and from ../shared.

``../shared`` (override: FACETRUST_SHARED) holds the evaluation data and model
files. Tests that need it skip with a message when it is absent, except in CI
(CI=true), where its absence is an error.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FACETRUST_SHARED", ROOT.parent / "shared"))
DATA = SHARED / "data"
MODELS = SHARED / "models"
FACES = DATA / "faces" / "ageitgey_face_recognition"

if MODELS.is_dir():
    os.environ.setdefault("FACETRUST_MODEL_DIR", str(MODELS))
# Tests never download: a missing model file must fail, not fetch.
os.environ["FACETRUST_OFFLINE"] = "1"


def need_shared() -> None:
    if not DATA.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{SHARED} is missing; CI must provide ../shared")
        pytest.skip(f"{SHARED} not found (set FACETRUST_SHARED)")


@pytest.fixture(scope="session")
def shared() -> Path:
    need_shared()
    return SHARED


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="session")
def grace_hopper_path() -> Path:
    import matplotlib.cbook

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as fh:
        return Path(fh.name)


@pytest.fixture(scope="session")
def analyzer():
    from facetrust import FaceAnalyzer

    return FaceAnalyzer()


@pytest.fixture(scope="session")
def faces_dir(shared: Path) -> Path:
    return FACES
