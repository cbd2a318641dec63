"""Image decoding with EXIF orientation, colour-mode normalisation and a pixel limit."""
from __future__ import annotations

import base64
import binascii
import io
import os
import warnings
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from facetrust.errors import (
    ImageDecodeError,
    ImageNotFoundError,
    ImageTooLargeError,
    ImageTooSmallError,
)

#: Default decompression-bomb limit: 50 megapixels (a 8660x5773 photo).
DEFAULT_MAX_PIXELS = 50_000_000
#: Smallest side we accept; a face needs more than this.
MIN_SIDE = 16

ImageSource = Union[str, os.PathLike, bytes, bytearray, np.ndarray, Image.Image]


def load_image(source: ImageSource, max_pixels: int | None = None) -> np.ndarray:
    """Return ``source`` as an RGB ``uint8`` array of shape (H, W, 3).

    Paths, bytes and ``data:`` URLs (base64) are decoded with Pillow, honouring EXIF orientation.
    Grayscale, RGBA, palette, 16-bit and CMYK inputs become RGB uint8.
    Raises a subclass of :class:`~facetrust.errors.ImageError` on bad input.
    """
    limit = DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels
    if isinstance(source, np.ndarray):
        rgb = _array_to_rgb(source)
    elif isinstance(source, Image.Image):
        rgb = _pil_to_rgb(source, limit)
    elif isinstance(source, (bytes, bytearray)):
        rgb = _decode(bytes(source), "<bytes>", limit)
    elif isinstance(source, str) and source.startswith("data:"):
        rgb = _decode(decode_base64_image(source), "<data URL>", limit)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise ImageNotFoundError(f"{path}: no such file")
        if not path.is_file():
            raise ImageNotFoundError(f"{path}: is not a file")
        rgb = _decode(path.read_bytes(), str(path), limit)
    else:
        raise ImageDecodeError(f"cannot read an image from a {type(source).__name__}")
    _check_size(rgb.shape[1], rgb.shape[0], limit, "image")
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


def _decode(data: bytes, name: str, limit: int) -> np.ndarray:
    if not data:
        raise ImageDecodeError(f"{name}: file is empty")
    try:
        with warnings.catch_warnings():
            # Pillow warns (not raises) between limit and 2*limit; we check ourselves.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            _check_size(image.width, image.height, limit, name)
            image.load()
    except ImageTooLargeError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"{name}: image exceeds the limit of {limit:,} pixels ({exc})") from None
    except UnidentifiedImageError:
        raise ImageDecodeError(f"{name}: not an image (unrecognised format)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageDecodeError(f"{name}: corrupt or truncated image ({exc})") from None
    return _pil_to_rgb(image, limit, name)


def _pil_to_rgb(image: Image.Image, limit: int, name: str = "image") -> np.ndarray:
    _check_size(image.width, image.height, limit, name)
    try:
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
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


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
