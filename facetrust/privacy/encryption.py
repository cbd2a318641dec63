"""Encryption at rest of a gallery's templates, its index file and its exports: AES-256-GCM.

What it protects against: someone who gets the files without the key (a stolen disk, a
copied backup, a leaked export) learns no template. What it does not: a live process that
holds the key (a compromised server, a debugger, a memory dump) sees the templates in
clear, because search decrypts them into memory. Names, metadata and template records
(quality, source path, face box) stay in clear; only the biometric vectors are encrypted.

Every stored template is ``nonce (12 random bytes) || AES-GCM ciphertext || tag`` with
*associated data* naming the gallery, the template id and the identity id, so a row copied
onto another row, another identity or another gallery fails authentication
(:class:`~facetrust.errors.CorruptDataError` naming the row) instead of matching. The
AES key is derived from a :class:`~facetrust.privacy.keys.ProtectionKey` (HMAC-SHA256 with a
fixed label, so the same key file could not leak across purposes), and the key's fingerprint
is stored in the gallery: a wrong key is refused at open (:class:`~facetrust.errors.WrongKeyError`),
never used to produce garbage.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

from facetrust.errors import ConfigError, CorruptDataError, PrivacyKeyError, WrongKeyError
from facetrust.privacy.keys import ProtectionKey, load_key

#: The key as 64 hex digits (what later commands and the server read by default).
ENCRYPTION_KEY_ENV = "FACETRUST_ENCRYPTION_KEY"
#: A key file path, read when ``$FACETRUST_ENCRYPTION_KEY`` is not set.
ENCRYPTION_KEY_FILE_ENV = "FACETRUST_ENCRYPTION_KEY_FILE"
CIPHER = "AES-256-GCM"
NONCE_BYTES = 12
TAG_BYTES = 16
_KEY_LABEL = b"facetrust gallery encryption v1"

KeySource = ProtectionKey | str | os.PathLike[str] | None


def load_encryption_key(key: KeySource = None) -> ProtectionKey:
    """The key given (a key or a key file), else ``$FACETRUST_ENCRYPTION_KEY`` (hex), else the
    key file named by ``$FACETRUST_ENCRYPTION_KEY_FILE``."""
    if key is None and not os.environ.get(ENCRYPTION_KEY_ENV) and os.environ.get(ENCRYPTION_KEY_FILE_ENV):
        key = os.environ[ENCRYPTION_KEY_FILE_ENV]
    if key is None and not os.environ.get(ENCRYPTION_KEY_ENV):
        raise PrivacyKeyError(f"no encryption key given: pass a key file, or set {ENCRYPTION_KEY_ENV} "
                              f"(64 hex digits) or {ENCRYPTION_KEY_FILE_ENV} (a key file)")
    return load_key(key, env=ENCRYPTION_KEY_ENV)


class TemplateCipher:
    """AES-256-GCM under one key; every call to :meth:`seal` draws a fresh random nonce."""

    def __init__(self, key: ProtectionKey) -> None:
        try:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        except ImportError:
            raise ConfigError("encrypted galleries need the cryptography package: "
                              "pip install 'facetrust[privacy]'") from None
        if not isinstance(key, ProtectionKey):
            raise ConfigError("TemplateCipher needs a ProtectionKey (see load_encryption_key)")
        self.key = key
        self._aead = AESGCM(key.derive(_KEY_LABEL))

    @property
    def fingerprint(self) -> str:
        return self.key.fingerprint

    def spec(self) -> dict[str, Any]:
        """What a gallery or export stores about its encryption (no secret)."""
        return {"cipher": CIPHER, "key_fingerprint": self.fingerprint}

    def seal(self, plain: bytes, associated: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plain, associated)

    def open(self, blob: Any, associated: bytes, what: str) -> bytes:
        """The plaintext of ``blob``; :class:`CorruptDataError` naming ``what`` when it fails authentication."""
        from cryptography.exceptions import InvalidTag

        data = bytes(blob) if isinstance(blob, (bytes, bytearray, memoryview)) else None
        if data is None or len(data) < NONCE_BYTES + TAG_BYTES:
            raise CorruptDataError(f"{what} is not an encrypted template (damaged or tampered with)")
        try:
            return self._aead.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], associated)
        except InvalidTag:
            raise CorruptDataError(f"{what} fails its authentication (tampered with, damaged or moved "
                                   "from another row); remove it or restore the gallery") from None


def template_data(gallery_uuid: str, template_id: int, identity_id: str) -> bytes:
    """Associated data of a stored template: moving the ciphertext to another row, identity or gallery breaks it."""
    return b"\0".join([b"facetrust-template", gallery_uuid.encode(), str(int(template_id)).encode(),
                       identity_id.encode()])


def index_data(gallery_uuid: str) -> bytes:
    return b"\0".join([b"facetrust-index", gallery_uuid.encode()])


def export_data(export_id: str, identity_id: str, position: int) -> bytes:
    """Associated data of an exported template: its export file, identity and place among the identity's templates."""
    return b"\0".join([b"facetrust-export", export_id.encode(), identity_id.encode(), str(int(position)).encode()])


def open_cipher(spec: dict[str, Any] | None, key: KeySource, what: str) -> TemplateCipher | None:
    """The cipher of data encrypted as ``spec`` says (None when not encrypted), checked against ``key``."""
    if spec is None:
        if key is not None:
            raise ConfigError(f"{what} is not encrypted: it takes no encryption key")
        return None
    if spec.get("cipher") != CIPHER:
        raise ConfigError(f"{what} is encrypted with {spec.get('cipher')!r}, which this facetrust cannot read")
    try:
        given = load_encryption_key(key)
    except PrivacyKeyError as exc:
        raise PrivacyKeyError(f"{what} is encrypted ({CIPHER}, key {spec.get('key_fingerprint')}): {exc}") from None
    if given.fingerprint != spec.get("key_fingerprint"):
        raise WrongKeyError(f"{what} is encrypted with key {spec.get('key_fingerprint')}, "
                            f"but the key given has fingerprint {given.fingerprint}")
    return TemplateCipher(given)


@dataclass(frozen=True)
class RotationReport:
    gallery: str
    templates: int
    old_fingerprint: str
    new_fingerprint: str

    def to_dict(self) -> dict[str, Any]:
        return {"gallery": self.gallery, "templates": self.templates, "old_key": self.old_fingerprint,
                "new_key": self.new_fingerprint, "verified": True}


def rotate_key(gallery: str | os.PathLike[str], old_key: KeySource, new_key: KeySource, *,
               progress: bool | Callable[[int, int | None], None] | None = None, **options: Any) -> RotationReport:
    """Re-encrypt an encrypted gallery under ``new_key``: every template and the index file, in one
    transaction (a crash leaves it wholly under the old or wholly under the new key), then verify
    that it opens with the new key and every template authenticates. Run it with the gallery out
    of service: a process that has it open keeps the old key and fails on the re-encrypted rows.
    ``options``: backend options of :meth:`Gallery.open <facetrust.gallery.Gallery.open>` (``schema=``)."""
    from facetrust.errors import CorruptDataError
    from facetrust.gallery import Gallery

    old, new = load_encryption_key(old_key), load_encryption_key(new_key)
    with Gallery.open(gallery, encryption_key=old, **options) as opened:
        count = opened.rotate_key(new, progress=progress)
    with Gallery.open(gallery, encryption_key=new, readonly=True, **options) as reopened:
        report = reopened.check()
    if not report.ok:
        raise CorruptDataError(f"{gallery}: re-encrypted under key {new.fingerprint}, but the check found: "
                               + "; ".join(report.problems))
    return RotationReport(str(gallery), count, old.fingerprint, new.fingerprint)
