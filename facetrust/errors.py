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


class ImageReadError(ImageError):
    """The file exists but cannot be read (permission denied, an I/O error, not a regular file)."""


class ImageTooLargeError(ImageError):
    """The image exceeds the pixel limit (decompression-bomb protection)."""


class ImageTooSmallError(ImageError):
    """The image is too small to contain an analysable face."""


class VideoError(ImageError):
    """A video could not be opened or decoded."""


class OutputError(FacetrustError):
    """An output file or folder (e.g. annotated images) cannot be written there."""


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


class StorageError(GalleryError):
    """The gallery's storage failed (an I/O error); what was committed before is intact."""


class DatabaseUnavailableError(StorageError):
    """The database cannot be reached (at start-up: within the retry time); nothing was written."""


class StorageFullError(StorageError):
    """The disk (or the database's size limit) is full: the write that hit it stored nothing."""


class CorruptDataError(StorageError):
    """A gallery or export file is damaged: a corrupt database page, a damaged vector, a truncated file."""


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


class MissingEmbeddingError(FacetrustError):
    """A fused recognizer was given a face without the embedding of one of its members."""


class PrivacyKeyError(FacetrustError):
    """A protection or encryption key is missing, too short, corrupted or unreadable."""


class WrongKeyError(PrivacyKeyError):
    """A key whose fingerprint differs from the one the data was protected or encrypted with."""


class ProtectedTemplateError(EmbeddingError):
    """A protected template where a plain embedding is expected, or the other way round."""


class PoseError(FacetrustError):
    """A face's head pose or dense landmarks cannot be estimated: no landmarks, an empty box, a face too small.
    ``reason_code`` (:mod:`facetrust.reasons`) is what the pose check reports as ``unavailable``."""

    def __init__(self, message: str, reason_code: str = "no_estimate") -> None:
        super().__init__(message)
        self.reason_code = reason_code
