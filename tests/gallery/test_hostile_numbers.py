"""Ids, offsets, limits, thresholds and FMRs a caller can get wrong: typed errors, never a raw
OverflowError / TypeError / RecursionError (found by bench/adversarial_campaign.py)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from facetrust.errors import ConfigError, GalleryError
from facetrust.gallery import Gallery


@pytest.fixture()
def gallery(tmp_path):
    opened = Gallery.create(tmp_path / "numbers.gallery", "dlib-resnet")
    vector = np.random.default_rng(0).normal(size=(1, opened.model.dim)).astype(np.float32)
    opened.enroll("a", embeddings=vector)
    yield opened, vector
    opened.close()


@pytest.mark.parametrize("value", [-1, 10**30, 1e30, "x", None, math.nan, True])
def test_bad_template_ids_are_gallery_errors(gallery, value):
    with pytest.raises(GalleryError, match="template id"):
        gallery[0].remove_template(value)


@pytest.mark.parametrize("offset, limit", [(-1, 5), (10**20, 5), (0, -1), (0, 10**20), ("x", 1)])
def test_bad_offsets_and_limits_are_gallery_errors(gallery, offset, limit):
    with pytest.raises(GalleryError):
        gallery[0].list(offset, limit)


@pytest.mark.parametrize("options", [{"threshold": "x"}, {"threshold": math.nan}, {"fmr": "x"}, {"fmr": 2},
                                     {"fmr": math.nan}, {"fmr": 0}])
def test_bad_thresholds_and_fmrs_are_config_errors(gallery, options):
    opened, vector = gallery
    with pytest.raises(ConfigError):
        opened.search_embeddings(vector, **options)


def test_deeply_nested_metadata_is_a_gallery_error_and_changes_nothing(gallery):
    opened, _ = gallery
    deep: dict = {}
    node = deep
    for _ in range(100_000):
        node["a"] = {}
        node = node["a"]
    with pytest.raises(GalleryError, match="nested"):
        opened.update("a", metadata=deep)
    assert opened.get("a").metadata == {}
    assert opened.list(0, 10)[0].id == "a"
