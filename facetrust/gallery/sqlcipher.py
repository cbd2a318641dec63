"""Whole-database encryption of the embedded backend with SQLCipher (``encryption="sqlcipher"``).

SQLCipher encrypts and authenticates every page of the database file and its write-ahead log
(AES-256, HMAC-SHA512 per page), so names, metadata and template records are encrypted too,
not only the vectors; the file has no SQLite header. Its page key is derived from the
gallery's encryption key with its own label. The rows keep their AES-256-GCM encryption and
the index file its own (:mod:`facetrust.privacy.encryption`), so the rest of the backend works
unchanged. The ``sqlcipher3`` package (a wheel with SQLCipher built in) provides the driver;
its exception classes are not :mod:`sqlite3`'s, hence the tuples below.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from facetrust.errors import ConfigError
from facetrust.privacy.keys import ProtectionKey

try:
    from sqlcipher3 import dbapi2 as _sqlcipher
except ImportError:  # the privacy extra is not installed
    _sqlcipher = None

SQLITE_HEADER = b"SQLite format 3\x00"
_PAGE_KEY_LABEL = b"facetrust sqlcipher page key v1"

#: What ``except`` catches for either driver.
ERROR: tuple[type[BaseException], ...] = (sqlite3.Error,) + ((_sqlcipher.Error,) if _sqlcipher else ())
OPERATIONAL_ERROR: tuple[type[BaseException], ...] = (sqlite3.OperationalError,) + (
    (_sqlcipher.OperationalError,) if _sqlcipher else ())
DATABASE_ERROR: tuple[type[BaseException], ...] = (sqlite3.DatabaseError,) + (
    (_sqlcipher.DatabaseError,) if _sqlcipher else ())


def is_sqlcipher_file(path: Path) -> bool:
    """A non-empty file without SQLite's header: an SQLCipher database (or not a database at all)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except OSError:
        return False
    return bool(head) and head != SQLITE_HEADER


def connect(target: str | Path, page_key: ProtectionKey | None, **options: Any) -> Any:
    """An :mod:`sqlite3` connection, or with ``page_key`` an SQLCipher one keyed with it (a wrong key
    shows at the first read, as a "file is not a database" error)."""
    if page_key is None:
        return sqlite3.connect(target, **options)
    if _sqlcipher is None:
        raise ConfigError("SQLCipher galleries need the sqlcipher3 package: pip install 'facetrust[privacy]'")
    conn = _sqlcipher.connect(str(target), **options)
    conn.execute("PRAGMA cipher_log_level = NONE")  # its own stderr lines; our errors say it in one line
    conn.execute(f"PRAGMA key = \"x'{page_key.derive(_PAGE_KEY_LABEL).hex()}'\"")
    return conn
