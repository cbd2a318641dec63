"""Test-time views of the SBI detector (``SBIDetector(views=...)``), on real face crops."""
from __future__ import annotations

import numpy as np
import pytest

from facetrust.errors import ConfigError


@pytest.fixture(scope="module")
def real_crops(sbi_checker, astronaut, grace_hopper_path) -> np.ndarray:
    from facetrust.io.image import load_image

    crops = []
    for image in (astronaut, load_image(grace_hopper_path)):
        face = sbi_checker.detect(image)[0]
        crops.append(sbi_checker.detector.crop(image, face.landmarks)[0])
    return np.stack(crops)


def test_mirror_views_average_the_crop_and_its_mirror(real_crops) -> None:
    from facetrust.forensics.sbi import SBIDetector

    one, mirror = SBIDetector(), SBIDetector(views="mirror")
    plain, plain_maps = one.score_crops(real_crops)
    mirrored, mirrored_maps = one.score_crops(np.ascontiguousarray(real_crops[:, :, ::-1]))
    scores, maps = mirror.score_crops(real_crops)
    np.testing.assert_allclose(scores, (plain + mirrored) / 2, atol=1e-6)
    np.testing.assert_allclose(maps, (plain_maps + mirrored_maps[:, :, ::-1]) / 2, atol=1e-6)
    # a mirrored photo gets the same verdict, to the float
    again, again_maps = mirror.score_crops(np.ascontiguousarray(real_crops[:, :, ::-1]))
    np.testing.assert_allclose(again, scores, atol=1e-6)
    np.testing.assert_allclose(again_maps[:, :, ::-1], maps, atol=1e-6)


def test_shifted_views_are_whole_pixel_moves_and_their_mirrors(real_crops) -> None:
    from facetrust.forensics.sbi import VIEW_SHIFT, SBIDetector, view_stack

    d = VIEW_SHIFT
    views = view_stack(real_crops, "shifted")
    assert views.shape == (10, *real_crops.shape) and views.dtype == np.uint8
    np.testing.assert_array_equal(views[0], real_crops)
    np.testing.assert_array_equal(views[1][:, :, :-d], real_crops[:, :, d:])  # moved left
    np.testing.assert_array_equal(views[2][:, :, d:], real_crops[:, :, :-d])  # moved right
    np.testing.assert_array_equal(views[3][:, :-d], real_crops[:, d:])  # moved up
    np.testing.assert_array_equal(views[4][:, d:], real_crops[:, :-d])  # moved down
    np.testing.assert_array_equal(views[5:], views[:5, :, :, ::-1])
    scores, maps = SBIDetector(views="shifted").score_crops(real_crops)
    single = np.stack([SBIDetector().score_crops(view)[0] for view in views])
    np.testing.assert_allclose(scores, single.mean(axis=0), atol=1e-6)
    assert maps.shape == (2, 24, 24)


@pytest.mark.parametrize("views", ["", "Mirror", "two", None, 10])
def test_unknown_views_are_a_config_error(views) -> None:
    from facetrust.forensics.sbi import SBIDetector

    with pytest.raises(ConfigError, match="views"):
        SBIDetector(views=views)


def test_the_checker_passes_views_and_the_cache_keys_them() -> None:
    from facetrust.forensics.false_alarms import build_checkers

    checkers, versions = build_checkers(["sbi", "mesonet"], sbi_views="mirror")
    assert checkers["sbi"].detector.views == "mirror"
    assert versions["sbi"].endswith("|views=mirror") and "views" not in versions["mesonet"]
    assert "views" not in build_checkers(["sbi"])[1]["sbi"]
