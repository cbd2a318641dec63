"""One JSON error shape for every failure, with the right status code, and no stack traces.

Native API (``/v1``, ``/health`` …)::

    {"error": {"code": "no_face", "message": "no face found in image a"}}

CompreFace-compatible API (``/api/v1``): CompreFace's own shape,
``{"message": "...", "code": 28}``, with its numeric codes.
"""
from __future__ import annotations

import logging
from typing import Any

from starlette.responses import JSONResponse

from facetrust import errors as E

log = logging.getLogger("facetrust.server")

COMPREFACE_PREFIX = "/api/v1/"


class ServerBusyError(E.FacetrustError):
    """Every inference slot is taken (503)."""


class InferenceTimeoutError(E.FacetrustError):
    """Inference did not finish within the request timeout (504)."""


class RateLimitedError(E.FacetrustError):
    """The client sent more requests than its rate limit allows (429)."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class UploadTooLargeError(E.FacetrustError):
    """The request body exceeds ``max_upload_bytes`` (413)."""


class UploadTimeoutError(E.FacetrustError):
    """The client did not send its request body within ``upload_timeout_s`` (408)."""


class NotFoundError(E.FacetrustError):
    """A route, gallery, report or file that does not exist (404)."""


class ConflictError(E.FacetrustError):
    """Something with that name already exists (409)."""


# (status, native code, CompreFace code) per error type; the most specific class in the MRO wins.
# CompreFace codes are those of its ExceptionCode enum (28 = no faces found, 42 = subject not found …).
_TABLE: dict[type[BaseException], tuple[int, str, int]] = {
    E.ImageTooLargeError: (413, "image_too_large", 21),
    E.ImageTooSmallError: (422, "image_too_small", 21),
    E.VideoError: (400, "bad_video", 21),
    E.ImageError: (400, "bad_image", 21),
    E.FaceNotFoundError: (422, "no_face", 28),
    E.MultipleFacesError: (422, "multiple_faces", 31),
    E.FaceQualityError: (422, "face_quality", 36),
    E.IdentityNotFoundError: (404, "not_found", 42),
    E.DuplicateIdentityError: (409, "already_exists", 43),
    E.EmbeddingError: (422, "bad_embedding", 37),
    E.StorageFullError: (507, "storage_full", 0),  # the server's disk, not the request, is at fault
    E.DatabaseUnavailableError: (503, "database_unavailable", 0),  # Retry-After: 1
    E.StorageError: (503, "storage_error", 0),
    E.GalleryError: (400, "gallery_error", 36),
    E.ConfigError: (400, "bad_request", 36),
    E.PrivacyKeyError: (503, "key_unavailable", 0),  # the server's gallery key is missing or wrong, not the request
    E.ModelError: (503, "model_unavailable", 41),
    E.DeviceUnavailableError: (503, "device_unavailable", 41),
    E.PermissionDeniedError: (403, "forbidden", 10),
    E.ApiKeyError: (401, "unauthorized", 10),
    ServerBusyError: (503, "busy", 41),
    InferenceTimeoutError: (504, "timeout", 41),
    RateLimitedError: (429, "rate_limited", 0),
    UploadTooLargeError: (413, "upload_too_large", 26),
    UploadTimeoutError: (408, "upload_timeout", 26),
    NotFoundError: (404, "not_found", 11),
    ConflictError: (409, "already_exists", 43),
    E.FacetrustError: (400, "bad_request", 0),
    # Text that is not valid Unicode (a lone surrogate in JSON) or JSON nested past the parser's stack.
    UnicodeError: (400, "bad_request", 36),
    RecursionError: (400, "bad_request", 36),
}

# Status codes raised by the framework itself (unknown route, bad method, bad fields).
_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 408: "upload_timeout", 413: "upload_too_large",
               415: "unsupported_media_type", 422: "bad_request", 429: "rate_limited", 503: "busy"}


def classify(error: BaseException) -> tuple[int, str, int]:
    for cls in type(error).__mro__:
        if cls in _TABLE:
            return _TABLE[cls]
    return 500, "internal_error", 0


def is_compreface(path: str) -> bool:
    return path.startswith(COMPREFACE_PREFIX)


def error_body(path: str, status: int, code: str, message: str, compreface_code: int = 0) -> dict[str, Any]:
    if is_compreface(path):
        return {"message": message, "code": compreface_code}
    return {"error": {"code": code, "message": message}}


def http_code(status: int) -> str:
    return _HTTP_CODES.get(status, "internal_error" if status >= 500 else "bad_request")


def error_headers(error: BaseException, status: int) -> dict[str, str]:
    headers: dict[str, str] = {}
    if isinstance(error, RateLimitedError):
        headers["Retry-After"] = str(max(1, round(error.retry_after_s + 0.5)))
    elif status == 503:
        headers["Retry-After"] = "1"
    if status == 401:
        headers["WWW-Authenticate"] = 'ApiKey header="x-api-key"'
    return headers


def error_response(path: str, error: BaseException) -> JSONResponse:
    """The JSON answer for a library or server error; unexpected errors are logged, not shown."""
    status, code, compreface_code = classify(error)
    if is_compreface(path) and status in (409, 422):
        status = 400  # CompreFace answers every bad input with 400 and tells them apart by code
    if status == 500:
        log.error("unhandled error on %s", path, exc_info=error)
        message = "internal server error"
    elif isinstance(error, E.DatabaseUnavailableError):  # the detail names the database: for the log only
        log.warning("%s: %s", path, error)
        message = "the database is unreachable; retry shortly"
    else:
        message = (str(error).splitlines() or [code.replace("_", " ")])[0]
    return JSONResponse(error_body(path, status, code, message, compreface_code), status,
                        headers=error_headers(error, status))
