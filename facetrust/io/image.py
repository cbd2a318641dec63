"""Image decoding with EXIF orientation, colour-mode normalisation and a pixel limit.

Decoding costs about 3-7 bytes per pixel whatever the file size (a 50 MB-pixel PNG of
one colour is a few KB), so the pixel limit is what bounds memory and time; each step
below avoids a copy of the full image where it can (docs/reliability.md, "Decode cost").
"""
from __future__ import annotations

import base64
import binascii
import os
import stat
import warnings
from io import BytesIO
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from facetrust.errors import (
    ConfigError,
    ImageDecodeError,
    ImageNotFoundError,
    ImageReadError,
    ImageTooLargeError,
    ImageTooSmallError,
)

#: Default decompression-bomb limit: 50 megapixels (a 8660x5773 photo); the environment
#: variable FACETRUST_MAX_PIXELS changes the default, ``max_pixels`` overrides both.
DEFAULT_MAX_PIXELS = 50_000_000
MAX_PIXELS_ENV = "FACETRUST_MAX_PIXELS"
#: Smallest side we accept; a face needs more than this.
MIN_SIDE = 16
#: Rows converted to numpy per step: a full-image ``np.asarray`` goes through one
#: ``tobytes()`` that briefly holds two more copies of the image.
_ROWS_PER_STEP = 128

ImageSource = Union[str, os.PathLike, bytes, bytearray, np.ndarray, Image.Image]


def default_max_pixels() -> int:
    """The pixel limit used when none is given: FACETRUST_MAX_PIXELS, else 50 megapixels."""
    raw = os.environ.get(MAX_PIXELS_ENV)
    if raw is None or not raw.strip():
        return DEFAULT_MAX_PIXELS
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise ConfigError(f"{MAX_PIXELS_ENV}={raw!r} is not a whole number of pixels") from None
    if value < MIN_SIDE * MIN_SIDE:
        raise ConfigError(f"{MAX_PIXELS_ENV}={raw!r} must be at least {MIN_SIDE * MIN_SIDE}")
    return value


def load_image(source: ImageSource, max_pixels: int | None = None) -> np.ndarray:
    """Return ``source`` as an RGB ``uint8`` array of shape (H, W, 3).

    Paths, bytes and ``data:`` URLs (base64) are decoded with Pillow, honouring EXIF orientation.
    Grayscale, RGBA, palette, 16-bit and CMYK inputs become RGB uint8.
    Raises a subclass of :class:`~facetrust.errors.ImageError` on bad input
    (:class:`~facetrust.errors.ImageReadError` for a file that exists but cannot be read).
    """
    limit = default_max_pixels() if max_pixels is None else max_pixels
    if isinstance(source, np.ndarray):
        rgb = _array_to_rgb(source)
    elif isinstance(source, Image.Image):
        rgb = _pil_to_rgb(source, limit)
    elif isinstance(source, (bytes, bytearray)):
        if not source:
            raise ImageDecodeError("<bytes>: file is empty")
        rgb = _decode(BytesIO(source), "<bytes>", limit)
    elif isinstance(source, str) and source.startswith("data:"):
        rgb = _decode(BytesIO(decode_base64_image(source)), "<data URL>", limit)
    elif isinstance(source, (str, os.PathLike)):
        rgb = _decode_file(Path(source), limit)
    else:
        raise ImageDecodeError(f"cannot read an image from a {type(source).__name__}")
    _check_size(rgb.shape[1], rgb.shape[0], limit, "image")
    return rgb


def decode_image_bytes(data: bytes, name: str, max_pixels: int | None = None) -> np.ndarray:
    """:func:`load_image` of a file's bytes read elsewhere (object storage), its errors naming
    the file ``name`` (e.g. its URI) instead of ``<bytes>``."""
    limit = default_max_pixels() if max_pixels is None else max_pixels
    if not data:
        raise ImageDecodeError(f"{name}: file is empty")
    rgb = _decode(BytesIO(data), name, limit)
    _check_size(rgb.shape[1], rgb.shape[0], limit, name)
    return rgb


def decode_base64_image(text: str) -> bytes:
    """The bytes of an image sent as base64 text or as a ``data:image/…;base64,`` URL (JSON APIs
    send images so); :class:`ImageDecodeError` when it is not valid base64."""
    if text.startswith("data:"):
        header, comma, text = text.partition(",")
        if not comma or not header.endswith(";base64"):
            raise ImageDecodeError("a data URL image must look like data:image/jpeg;base64,<base64>")
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageDecodeError(f"image is not valid base64 ({exc})") from None


def _decode_file(path: Path, limit: int) -> np.ndarray:
    """Decode from the open file (never read whole into memory first); only regular files,
    so a FIFO or a device cannot block or stream forever."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ImageNotFoundError(f"{path}: no such file") from None
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:  # a NUL byte in the path
        raise ImageNotFoundError(f"{str(path)!r}: not a valid path ({exc})") from None
    if stat.S_ISDIR(mode):
        raise ImageNotFoundError(f"{path}: is a directory, not a file")
    if not stat.S_ISREG(mode):
        raise ImageReadError(f"{path}: is not a regular file")
    try:
        handle = open(path, "rb")
        # Reading the first bytes here separates "cannot read" (EIO, EACCES) from "not an image".
        first = handle.read(16)
        handle.seek(0)
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot read ({exc.strerror or exc})") from None
    with handle:
        if not first:
            raise ImageDecodeError(f"{path}: file is empty")
        return _decode(handle, str(path), limit)


def _decode(data: BinaryIO, name: str, limit: int) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            # Pillow warns (not raises) between limit and 2*limit, and about odd files
            # (truncated EXIF, palette transparency); we check the size ourselves and
            # the one-line error contract leaves no room for warnings on stderr.
            warnings.simplefilter("ignore")
            image = Image.open(data)
            _check_size(image.width, image.height, limit, name)
            image.load()
            return _pil_to_rgb(image, limit, name)
    except ImageTooLargeError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"{name}: image exceeds the limit of {limit:,} pixels ({exc})") from None
    except UnidentifiedImageError:
        raise ImageDecodeError(f"{name}: not an image (unrecognised format)") from None
    except MemoryError:
        raise ImageTooLargeError(f"{name}: not enough memory to decode this image") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageDecodeError(f"{name}: corrupt or truncated image ({exc})") from None


def _pil_to_rgb(image: Image.Image, limit: int, name: str = "image") -> np.ndarray:
    _check_size(image.width, image.height, limit, name)
    try:
        # exif_transpose copies even when there is nothing to turn: only call it when needed.
        if image.getexif().get(ExifTags.Base.Orientation, 1) not in (0, 1):
            image = ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block must not make a good image unreadable
        pass
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        return _array_to_rgb(_scale_to_uint8(array))
    if image.mode == "RGBA" or image.mode == "LA" or (image.mode == "P" and "transparency" in image.info):
        # Transparent pixels become white rather than whatever colour they hid.
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    if image.mode != "RGB":
        image = image.convert("RGB")
    return _rgb_array(image)


def _rgb_array(image: Image.Image) -> np.ndarray:
    """An RGB Pillow image as a (H, W, 3) uint8 array, converted in bands of rows."""
    width, height = image.size
    if height <= _ROWS_PER_STEP:
        return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))
    out = np.empty((height, width, 3), dtype=np.uint8)
    for top in range(0, height, _ROWS_PER_STEP):
        bottom = min(height, top + _ROWS_PER_STEP)
        out[top:bottom] = np.asarray(image.crop((0, top, width, bottom)), dtype=np.uint8)
    return out


def _array_to_rgb(array: np.ndarray) -> np.ndarray:
    """Arrays are taken as RGB(A) or grayscale; floats must lie in [0, 1]."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageDecodeError(f"array of shape {array.shape} is not an image (expected HxW, HxWx3 or HxWx4)")
    if array.dtype == np.uint8:
        out = array
    elif array.dtype == np.uint16:
        out = (array.astype(np.uint32) * 255 // 65535).astype(np.uint8)
    elif np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)):
            raise ImageDecodeError("float image contains NaN or infinity")
        if array.min() < 0.0 or array.max() > 1.0:
            raise ImageDecodeError("float image values must lie in [0, 1]")
        out = np.round(array * 255.0).astype(np.uint8)
    elif array.dtype == np.bool_:
        out = array.astype(np.uint8) * 255
    else:
        raise ImageDecodeError(f"unsupported image dtype {array.dtype} (use uint8, uint16 or float in [0, 1])")
    if out.ndim == 2:
        out = np.stack([out] * 3, axis=-1)
    elif out.shape[2] == 4:
        alpha = out[:, :, 3:4].astype(np.float32) / 255.0
        out = np.round(out[:, :, :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(out)


def _scale_to_uint8(array: np.ndarray) -> np.ndarray:
    top = 65535.0 if array.max() > 255 else 255.0
    return np.clip(array / top * 255.0, 0, 255).astype(np.uint8)


def _check_size(width: int, height: int, limit: int, name: str) -> None:
    if width * height > limit:
        raise ImageTooLargeError(
            f"{name}: {width}x{height} = {width * height:,} pixels exceeds the limit of {limit:,}"
        )
    if min(width, height) < MIN_SIDE:
        raise ImageTooSmallError(f"{name}: {width}x{height} is too small (each side must be >= {MIN_SIDE} px)")
