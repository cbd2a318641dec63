"""Secret keys for template protection and encryption: generated, stored, fingerprinted.

A key is 32 random bytes from the operating system's CSPRNG (:func:`secrets.token_bytes`).
It lives in a key file (one line ``facetrust-key v1 <64 hex digits> <fingerprint>``,
mode 0600) or in an environment variable (the 64 hex digits). The fingerprint, a
truncated HMAC of a fixed label, names a key without revealing it: galleries store it
and refuse a key whose fingerprint differs. Every keyed random choice a scheme makes
(rotation, noise direction, dropped groups) comes from :meth:`ProtectionKey.rng`, a
generator seeded with an HMAC of the purpose, so one key gives the same transform
everywhere and different keys give independent ones.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facetrust.errors import PrivacyKeyError, WrongKeyError

KEY_BYTES = 32
KEY_ENV = "FACETRUST_PRIVACY_KEY"
_MAGIC = "facetrust-key"
_VERSION = "v1"


class KeyFilePermissionWarning(UserWarning):
    """A key file that users other than its owner can read."""


@dataclass(frozen=True)
class ProtectionKey:
    """A secret key; ``repr`` shows only the fingerprint."""

    secret: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.secret, bytes) or len(self.secret) != KEY_BYTES:
            size = len(self.secret) if isinstance(self.secret, (bytes, bytearray)) else "no"
            raise PrivacyKeyError(f"a key must be {KEY_BYTES} bytes, got {size} bytes")

    def __repr__(self) -> str:
        return f"ProtectionKey(fingerprint={self.fingerprint!r})"

    @classmethod
    def generate(cls) -> ProtectionKey:
        return cls(secrets.token_bytes(KEY_BYTES))

    @classmethod
    def from_hex(cls, text: str, source: str = "key") -> ProtectionKey:
        text = text.strip()
        try:
            secret = bytes.fromhex(text)
        except ValueError:
            raise PrivacyKeyError(f"{source}: not a hexadecimal key") from None
        if len(secret) != KEY_BYTES:
            raise PrivacyKeyError(f"{source}: a key has {2 * KEY_BYTES} hex digits, got {len(text)}")
        return cls(secret)

    @property
    def fingerprint(self) -> str:
        return self.derive(b"fingerprint").hex()[:16]

    def derive(self, purpose: bytes) -> bytes:
        """32 bytes bound to this key and ``purpose`` (HMAC-SHA256)."""
        return hmac.new(self.secret, purpose, hashlib.sha256).digest()

    def rng(self, purpose: str) -> np.random.Generator:
        """A random generator that only this key reproduces, one per ``purpose``."""
        return np.random.default_rng(int.from_bytes(self.derive(purpose.encode()), "big"))

    def hex(self) -> str:
        return self.secret.hex()

    def check(self, fingerprint: str | None, what: str) -> None:
        """Raise :class:`WrongKeyError` unless this key has ``fingerprint``."""
        if fingerprint is not None and fingerprint != self.fingerprint:
            raise WrongKeyError(f"{what} was protected with key {fingerprint}, "
                                f"but the key given has fingerprint {self.fingerprint}")


def save_key(key: ProtectionKey, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Write ``key`` to ``path`` with mode 0600, atomically; refuses to replace a file unless ``overwrite``."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise PrivacyKeyError(f"{path}: a key file already exists (refusing to overwrite a key)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # created 0600
    except OSError as exc:
        raise PrivacyKeyError(f"{path}: cannot write the key file ({exc.strerror or exc})") from None
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(f"{_MAGIC} {_VERSION} {key.hex()} {key.fingerprint}\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise PrivacyKeyError(f"{path}: cannot write the key file ({exc.strerror or exc})") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def read_key_file(path: str | os.PathLike[str]) -> ProtectionKey:
    """The key in ``path``; warns (:class:`KeyFilePermissionWarning`) when others can read the file."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
        text = path.read_text()
    except FileNotFoundError:
        raise PrivacyKeyError(f"{path}: key file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PrivacyKeyError(f"{path}: cannot read key file ({exc})") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        warnings.warn(f"{path}: key file is accessible to other users (mode {stat.S_IMODE(mode):o}); "
                      f"run: chmod 600 {path}", KeyFilePermissionWarning, stacklevel=2)
    parts = text.split()
    if len(parts) != 4 or parts[0] != _MAGIC or parts[1] != _VERSION:
        raise PrivacyKeyError(f"{path}: not a facetrust key file (corrupted?)")
    key = ProtectionKey.from_hex(parts[2], str(path))
    if key.fingerprint != parts[3]:
        raise PrivacyKeyError(f"{path}: key and stored fingerprint disagree (corrupted key file)")
    return key


def load_key(key: ProtectionKey | str | os.PathLike[str] | None = None, env: str = KEY_ENV) -> ProtectionKey:
    """A key given directly, as a key-file path, or (when ``key`` is None) from the environment variable ``env``."""
    if isinstance(key, ProtectionKey):
        return key
    if key is not None:
        return read_key_file(key)
    value = os.environ.get(env)
    if not value:
        raise PrivacyKeyError(f"no key given: pass a key file or set {env}")
    return ProtectionKey.from_hex(value, f"${env}")
