"""Image input: every documented mode, EXIF orientation and each bad-input case."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from facetrust.errors import (
    ImageDecodeError,
    ImageNotFoundError,
    ImageTooLargeError,
    ImageTooSmallError,
)
from facetrust.io import load_image


def _encode(image: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def pil_astronaut(astronaut) -> Image.Image:
    return Image.fromarray(astronaut)


def test_rgb_path_bytes_array_and_pil_agree(tmp_path, pil_astronaut, astronaut):
    path = tmp_path / "a.png"
    pil_astronaut.save(path)
    for source in (path, str(path), path.read_bytes(), astronaut, pil_astronaut):
        out = load_image(source)
        assert out.dtype == np.uint8 and out.shape == (512, 512, 3)
        assert np.array_equal(out, astronaut)


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "CMYK", "I;16", "1"])
def test_modes_become_rgb_uint8(pil_astronaut, mode):
    converted = pil_astronaut.convert("L").convert(mode) if mode == "I;16" else pil_astronaut.convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "TIFF" if mode == "I;16" else "PNG"
    out = load_image(_encode(converted, fmt))
    assert out.dtype == np.uint8 and out.shape == (512, 512, 3)
    assert out.std() > 10  # real picture content, not a blank


def test_16bit_grayscale_is_scaled_not_clipped():
    ramp = (np.linspace(0, 65535, 64 * 64).reshape(64, 64)).astype(np.uint16)
    out = load_image(_encode(Image.fromarray(ramp), "TIFF"))
    assert out[0, 0, 0] == 0 and out[-1, -1, 0] == 255
    assert np.all(out[..., 0] == out[..., 1])


def test_transparent_pixels_become_white():
    rgba = np.zeros((32, 32, 4), dtype=np.uint8)
    out = load_image(_encode(Image.fromarray(rgba, "RGBA")))
    assert np.all(out == 255)


def test_exif_orientation_is_honoured(shared):
    # The spoof samples are stored 640x480 with EXIF orientation 6 (rotate 90° clockwise).
    path = shared / "data" / "spoof" / "silent_face" / "image_T1.jpg"
    with Image.open(path) as raw:
        assert raw.size == (640, 480) and raw.getexif().get(0x0112) == 6
    assert load_image(path).shape == (640, 480, 3)


def test_32bit_png_from_face_recognition_tests(faces_dir):
    out = load_image(faces_dir / "tests" / "test_images" / "32bit.png")
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3


@pytest.mark.parametrize(
    "array",
    [
        np.zeros((64, 64), dtype=np.uint8),
        np.zeros((64, 64, 1), dtype=np.uint8),
        np.zeros((64, 64, 4), dtype=np.uint8),
        np.zeros((64, 64, 3), dtype=np.uint16),
        np.zeros((64, 64, 3), dtype=np.float32),
        np.zeros((64, 64), dtype=bool),
    ],
)
def test_supported_arrays(array):
    assert load_image(array).shape == (64, 64, 3)


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((64, 64, 3), dtype=np.int64), "dtype"),
        (np.full((64, 64, 3), 2.0), r"\[0, 1\]"),
        (np.full((64, 64, 3), np.nan), "NaN"),
        (np.zeros((64, 64, 2), dtype=np.uint8), "shape"),
        (np.zeros((4, 64, 64, 3), dtype=np.uint8), "shape"),
    ],
)
def test_bad_arrays(array, message):
    with pytest.raises(ImageDecodeError, match=message):
        load_image(array)


def test_missing_file(tmp_path):
    with pytest.raises(ImageNotFoundError, match="no such file"):
        load_image(tmp_path / "nope.jpg")


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(ImageNotFoundError, match="not a file"):
        load_image(tmp_path)


def test_empty_file(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageDecodeError, match="empty"):
        load_image(tmp_path / "empty.jpg")


def test_truncated_jpeg(tmp_path, faces_dir):
    data = (faces_dir / "examples" / "obama.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 3])
    with pytest.raises(ImageDecodeError, match="truncated"):
        load_image(tmp_path / "cut.jpg")


def test_non_image_bytes(tmp_path):
    (tmp_path / "notes.jpg").write_text("this is not a picture\n" * 20)
    with pytest.raises(ImageDecodeError, match="not an image"):
        load_image(tmp_path / "notes.jpg")
    with pytest.raises(ImageDecodeError):
        load_image(12345)  # type: ignore[arg-type]


def test_decompression_bomb_is_refused_before_decoding():
    # 20000x20000 = 400 Mpx of black compresses to a few hundred KB.
    bomb = _encode(Image.new("L", (20000, 20000)), "PNG")
    assert len(bomb) < 2_000_000
    with pytest.raises(ImageTooLargeError, match="exceeds the limit"):
        load_image(bomb)
    with pytest.raises(ImageTooLargeError):
        load_image(_encode(Image.new("RGB", (300, 300))), max_pixels=10_000)


def test_one_pixel_image():
    with pytest.raises(ImageTooSmallError, match="too small"):
        load_image(_encode(Image.new("RGB", (1, 1))))
    with pytest.raises(ImageTooSmallError):
        load_image(np.zeros((1, 1, 3), dtype=np.uint8))
