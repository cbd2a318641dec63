"""Image input: every documented mode, EXIF orientation and each bad-input case."""
from __future__ import annotations

import io
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from facetrust.errors import (
    ConfigError,
    ImageDecodeError,
    ImageNotFoundError,
    ImageReadError,
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


@pytest.mark.parametrize("kind", ["proc_mem", "fifo"])
def test_unreadable_file_is_a_read_error(tmp_path, kind):
    # Root ignores chmod 000, so these fail for every user: EIO on read, and a FIFO that
    # would block a reader forever.
    if kind == "proc_mem":
        path = tmp_path / "mem.jpg"
        path.symlink_to("/proc/self/mem")
        message = "cannot read"
    else:
        path = tmp_path / "pipe.jpg"
        os.mkfifo(path)
        message = "not a regular file"
    with pytest.raises(ImageReadError, match=message):
        load_image(path)


def test_large_image_converts_exactly(tmp_path):
    # Taller than one conversion band (512 rows), with a row- and column-dependent pattern.
    rows, cols = np.mgrid[0:1300, 0:700]
    array = np.stack([(rows * 7) % 256, (cols * 3) % 256, (rows + cols) % 256], axis=-1).astype(np.uint8)
    Image.fromarray(array).save(tmp_path / "big.png")
    assert np.array_equal(load_image(tmp_path / "big.png"), array)


def test_pixel_limit_from_environment(monkeypatch):
    small = _encode(Image.new("RGB", (300, 300)))
    monkeypatch.setenv("FACETRUST_MAX_PIXELS", "10000")
    with pytest.raises(ImageTooLargeError, match="10,000"):
        load_image(small)
    assert load_image(small, max_pixels=100_000).shape == (300, 300, 3)
    monkeypatch.setenv("FACETRUST_MAX_PIXELS", "lots")
    with pytest.raises(ConfigError, match="FACETRUST_MAX_PIXELS"):
        load_image(small)


def test_decode_memory_is_bounded_per_pixel(tmp_path):
    """A 12-megapixel PNG of a few KB: decoding holds at most Pillow's image (4 bytes per
    pixel), the RGB array (3 bytes per pixel) and one band of rows in conversion at once
    (the old path held several full copies: 18 bytes per pixel)."""
    width, height = 4000, 3000
    Image.new("RGB", (width, height), (90, 120, 150)).save(tmp_path / "flat.png")
    Image.new("RGB", (64, 64)).save(tmp_path / "tiny.png")
    assert (tmp_path / "flat.png").stat().st_size < 100_000
    # The tiny image first, so that imports and Pillow's plugins are not counted.
    # VmHWM (peak resident set of this process image): ru_maxrss would start at the parent's.
    code = ("import sys; from facetrust.io import load_image\n"
            "def peak(): return next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
            "load_image(sys.argv[2]); before = peak(); load_image(sys.argv[1]); print((peak() - before) * 1024)")
    grown = int(subprocess.run([sys.executable, "-c", code, str(tmp_path / "flat.png"), str(tmp_path / "tiny.png")],
                               capture_output=True, text=True, check=True).stdout)
    assert grown <= 7 * width * height + 16 * 2**20


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 file; /proc/self/mem and a FIFO cover root")
def test_permission_denied_is_a_read_error(tmp_path):
    path = tmp_path / "locked.jpg"
    Image.new("RGB", (64, 64)).save(path, "JPEG")
    path.chmod(0)
    with pytest.raises(ImageReadError, match="Permission denied"):
        load_image(path)


def test_a_path_with_a_nul_byte_is_a_typed_error():
    from facetrust.errors import ImageNotFoundError
    from facetrust.io.image import load_image

    with pytest.raises(ImageNotFoundError, match="not a valid path"):
        load_image("a\x00b.jpg")
