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


class FaceQualityError(FacetrustError):
    """A face cannot be quality-assessed: no landmarks, an empty box, a crop too small to measure."""


class LowQualityError(FaceQualityError):
    """A face's quality is below the threshold an operation (e.g. enrolment) requires."""


class MultipleFacesError(FacetrustError):
    """An operation that needs exactly one face (e.g. gallery enrolment) found several."""


class GalleryError(FacetrustError):
    """A gallery cannot be created, opened or changed (not a gallery, read-only, corrupt)."""


class IdentityNotFoundError(GalleryError):
    """No identity (or template) with that id is enrolled."""


class DuplicateIdentityError(GalleryError):
    """An identity with that id is already enrolled."""


class EmbeddingError(GalleryError):
    """An embedding has the wrong dimension, is not finite, or comes from another model."""


class ModelMismatchError(EmbeddingError):
    """Embeddings or an analyzer from a different recognizer than the gallery's."""


class ApiKeyError(FacetrustError):
    """A missing, unknown or revoked API key (the server answers 401)."""


class PermissionDeniedError(ApiKeyError):
    """A valid API key that is not scoped to the gallery it asks for (the server answers 403)."""


class PrivacyKeyError(FacetrustError):
    """A protection or encryption key is missing, too short, corrupted or unreadable."""


class WrongKeyError(PrivacyKeyError):
    """A key whose fingerprint differs from the one the data was protected or encrypted with."""


class ProtectedTemplateError(EmbeddingError):
    """A protected template where a plain embedding is expected, or the other way round."""
