"""A tiny identity-folder tree from real LFW images (with the bad cases a user's folder may have),
aligned once per session with the project's detector."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

try:  # one intra-op thread: tiny batches gain nothing from more, and the CI cores are shared
    import torch

    torch.set_num_threads(1)
except ImportError:
    pass

IDENTITIES = ("Al_Gore", "Albert_Costa", "Amelia_Vega", "Angela_Bassett")


@pytest.fixture(scope="session")
def identity_tree(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    lfw = shared / "data" / "lfw"
    root = tmp_path_factory.mktemp("faces")
    for name in IDENTITIES:
        shutil.copytree(lfw / name, root / name)
    (root / "Empty_Person").mkdir()
    shutil.copytree(lfw / "AJ_Cook", root / "AJ_Cook")  # one image only
    (root / "Al_Gore" / "truncated.jpg").write_bytes((lfw / "Al_Gore" / "Al_Gore_0001.jpg").read_bytes()[:300])
    (root / "Amelia_Vega" / "not_an_image.png").write_text("hello")
    return root


@pytest.fixture(scope="session")
def aligned_cache(identity_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    from facetrust.training.data import build_aligned_cache

    cache = tmp_path_factory.mktemp("aligned")
    build_aligned_cache(identity_tree, cache, "dlib-hog", progress=False)
    return cache
