"""The MiniFASNet crop against windows computed by hand from the reference CropImage rules."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from facetrust.liveness.crop import crop_window, reference_crop, reference_xywh

W, H = 480, 640  # the spoof samples after EXIF rotation


def test_box_convention_matches_the_reference_detector():
    # int(left), int(top), int(right - left + 1), int(bottom - top + 1)
    assert reference_xywh((119.6, 109.2, 296.9, 357.4)) == (119, 109, 178, 249)


def test_interior_face_is_enlarged_around_its_centre():
    # box (150, 200, 100, 120), scale 2.7: 270 x 324 around (200, 260)
    # -> left 65, top 98, right 335, bottom 422
    assert crop_window(W, H, (150, 200, 100, 120), 2.7) == (65, 98, 335, 422)


def test_top_left_overflow_is_shifted_not_clipped():
    # box (10, 20, 100, 120), 2.7: 270 x 324 around (60, 80) -> (-75, -82, 195, 242);
    # shifted right by 75 and down by 82 -> (0, 0, 270, 324): same size, face off-centre
    assert crop_window(W, H, (10, 20, 100, 120), 2.7) == (0, 0, 270, 324)


def test_bottom_right_overflow_is_shifted_not_clipped():
    # box (400, 550, 60, 80), 4.0: 240 x 320 around (430, 590) -> (310, 430, 550, 750);
    # right 550 > 479: shift left by 71 -> (239, _, 479, _); bottom 750 > 639: up by 111 -> (_, 319, _, 639)
    assert crop_window(W, H, (400, 550, 60, 80), 4.0) == (239, 319, 479, 639)


def test_scale_is_capped_when_the_enlarged_box_cannot_fit():
    # box (100, 100, 200, 300), 4.0: scale = min(639/300, 479/200, 4) = 2.13
    # -> 426 x 639 around (200, 250) = (-13, -69.5, 413, 569.5) -> shifted (0, 0, 426, 639)
    assert crop_window(W, H, (100, 100, 200, 300), 4.0) == (0, 0, 426, 639)


def test_bad_box_is_rejected():
    with pytest.raises(ValueError):
        crop_window(W, H, (10, 10, 0, 50), 2.7)


def test_crop_pixels_are_the_bgr_slice_resized_bilinear(shared):
    from facetrust.io import load_image

    image = load_image(shared / "data" / "spoof" / "silent_face" / "image_T1.jpg")
    assert image.shape == (H, W, 3)  # EXIF orientation 6 honoured: portrait
    box = (10.7, 20.2, 109.9, 139.5)  # near the top-left corner: (10, 20, 100, 120) as above
    expected = cv2.resize(np.ascontiguousarray(image[0:325, 0:271, ::-1]), (80, 80), interpolation=cv2.INTER_LINEAR)
    crop = reference_crop(image, box, 2.7)
    assert crop.shape == (80, 80, 3) and crop.dtype == np.uint8
    np.testing.assert_array_equal(crop, expected)
