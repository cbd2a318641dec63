"""Images sent as base64 text or data URLs (as JSON APIs send them) decode like the file."""
from __future__ import annotations

import base64

import numpy as np
import pytest

from facetrust.errors import ImageDecodeError
from facetrust.io.image import decode_base64_image, load_image


def test_base64_and_data_urls_decode_to_the_same_pixels(grace_hopper_path):
    data = grace_hopper_path.read_bytes()
    text = base64.b64encode(data).decode()
    assert decode_base64_image(text) == data
    assert decode_base64_image("\n".join(text[i:i + 76] for i in range(0, len(text), 76))) == data  # MIME lines
    assert decode_base64_image(f"data:image/jpeg;base64,{text}") == data
    assert np.array_equal(load_image(f"data:image/jpeg;base64,{text}"), load_image(grace_hopper_path))


@pytest.mark.parametrize("bad", ["not base64!", "QUJ", "data:image/jpeg,QUJD", "data:image/png;base64"])
def test_bad_base64_is_an_image_decode_error(bad):
    with pytest.raises(ImageDecodeError):
        decode_base64_image(bad)
