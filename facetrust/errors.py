"""Typed exceptions raised by the facetrust API.

Every error a user can cause derives from :class:`FacetrustError`, so callers
(the CLI, the server) can catch one type and show one readable line.
"""
from __future__ import annotations


class FacetrustError(Exception):
    """Base class of every error facetrust raises on purpose."""


class ImageError(FacetrustError):
    """An input could not be turned into an image."""


class ImageNotFoundError(ImageError):
    """The path does not exist or is not a regular file."""


class ImageDecodeError(ImageError):
    """The bytes are empty, truncated or not an image format we can read."""


class ImageTooLargeError(ImageError):
    """The image exceeds the pixel limit (decompression-bomb protection)."""


class ImageTooSmallError(ImageError):
    """The image is too small to contain an analysable face."""


class VideoError(ImageError):
    """A video could not be opened or decoded."""


class ConfigError(FacetrustError):
    """A bad configuration value: unknown component name, bad option."""


class ModelError(FacetrustError):
    """A model file is missing, corrupted or cannot be loaded."""


class ModelNotAvailableError(ModelError):
    """The model file is neither in the offline directory, the cache, nor downloadable."""


class ChecksumMismatchError(ModelError):
    """A model file's sha256 does not match the manifest."""


class DeviceUnavailableError(FacetrustError):
    """The requested execution device (e.g. a GPU) is not usable."""


class FaceNotFoundError(FacetrustError):
    """An operation that needs a face (e.g. verify) found none."""
