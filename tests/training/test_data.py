"""Identity folders -> aligned crops: bad images skipped and counted, bad folders reported."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from facetrust.training.data import build_aligned_cache, load_dataset  # noqa: E402
from facetrust.training.errors import DatasetError  # noqa: E402

IDENTITIES = ("Al_Gore", "Albert_Costa", "Amelia_Vega", "Angela_Bassett")  # as in conftest.py


def test_cache_holds_aligned_crops_and_counts_what_it_skipped(identity_tree: Path, aligned_cache: Path) -> None:
    dataset = load_dataset(aligned_cache, 2, build_aligned_cache(identity_tree, aligned_cache, "dlib-hog", False))
    report = dataset.report
    assert report.corrupt == ["Al_Gore/truncated.jpg", "Amelia_Vega/not_an_image.png"]
    assert report.empty_folders == ["Empty_Person"]
    assert report.too_few_images == ["AJ_Cook"]
    assert dataset.identities == sorted(IDENTITIES)
    originals = sum(len(list((identity_tree / name).glob("*_0*.jpg"))) for name in IDENTITIES)
    assert report.images == len(dataset) == originals - len(report.no_face)
    crops = dataset.load(np.arange(3))
    assert crops.shape == (3, 112, 112, 3) and crops.dtype == np.uint8
    assert np.bincount(dataset.labels).min() >= 2


def test_one_image_per_identity_is_an_error(identity_tree: Path, tmp_path: Path) -> None:
    for name in ("AJ_Cook", "Empty_Person"):
        (tmp_path / name).mkdir()
    (tmp_path / "AJ_Cook" / "a.jpg").write_bytes((identity_tree / "AJ_Cook" / "AJ_Cook_0001.jpg").read_bytes())
    with pytest.raises(DatasetError, match="need at least 2 identities"):
        load_dataset(tmp_path, 2)


def test_missing_or_flat_folders_are_errors(identity_tree: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not found"):
        load_dataset(tmp_path / "nowhere", 2)
    with pytest.raises(DatasetError, match="no identity folders"):
        load_dataset(identity_tree / "Al_Gore", 2)
