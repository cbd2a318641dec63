"""The embedded backend: SQLite (WAL) is the source of truth, FAISS the search index.

Files: ``GALLERY`` (the database), ``GALLERY-wal`` / ``GALLERY-shm`` (SQLite's
write-ahead log, present while open) and ``GALLERY.index`` (the FAISS index, a
rebuildable cache; see :mod:`facetrust.gallery.faiss_index`).

* Every write is one transaction, committed with ``synchronous=FULL``; a crash
  loses at most the transaction in flight. Each write that changes templates
  increments ``state.generation``; removed template ids go to the ``removed``
  log, so an index that lags behind is brought up to date instead of rebuilt.
* Erasure: ``secure_delete`` zeroes deleted rows in place, then a
  ``wal_checkpoint(TRUNCATE)`` moves the zeroed pages into the database file and
  empties the log, and the index file is rewritten without the removed vectors.
* Readers in other processes (``readonly=True`` or not) see committed writes:
  each search first applies changes committed since the index's generation.
* Encryption at rest (``encryption_key``, :mod:`facetrust.privacy.encryption`): template
  vectors are stored AES-256-GCM encrypted, each bound to its template id, identity id and
  gallery; the index file is encrypted in memory before it is written. Search decrypts into
  memory only. Template ids are allocated explicitly (the next AUTOINCREMENT value, under the
  write lock) so each vector is encrypted once, bound to its final id.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
import warnings
from collections import Counter
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence
from urllib.parse import quote

import numpy as np

from facetrust.errors import (
    ConfigError, CorruptDataError, DuplicateIdentityError, GalleryError, IdentityNotFoundError, PrivacyKeyError,
    StorageError, StorageFullError, WrongKeyError,
)
from facetrust.gallery.base import (
    ENCRYPTED_FORMAT_VERSION, FORMAT, FORMAT_VERSION, Candidate, DamagedTemplateWarning, ErasureWarning,
    GalleryIndexWarning, Identity, IndexConfig, IntegrityReport, ModelIdentity, NewTemplate, OnDuplicate, Template, damaged_vector,
    distinct_identities, iso_time, storage_error,
)
from facetrust.gallery.faiss_index import IndexFileError, IndexStamp, TemplateIndex, planned_kind
from facetrust.gallery.index_kinds import check_config
from facetrust.gallery.sqlcipher import DATABASE_ERROR, OPERATIONAL_ERROR, connect, is_sqlcipher_file
from facetrust.gallery.sqlcipher import ERROR as DB_ERROR
from facetrust.privacy.encryption import (KeySource, TemplateCipher, index_data, load_encryption_key, open_cipher,
                                          template_data)
from facetrust.privacy.keys import ProtectionKey

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE state (singleton INTEGER PRIMARY KEY CHECK (singleton = 0),
                    generation INTEGER NOT NULL, log_since INTEGER NOT NULL);
CREATE TABLE identities (pk INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, name TEXT,
                         metadata TEXT NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE templates (id INTEGER PRIMARY KEY AUTOINCREMENT,
                        identity_pk INTEGER NOT NULL REFERENCES identities(pk) ON DELETE CASCADE,
                        vector BLOB NOT NULL, quality REAL, source TEXT, created_at REAL NOT NULL, face TEXT);
CREATE INDEX templates_identity ON templates(identity_pk);
CREATE TABLE removed (template_id INTEGER PRIMARY KEY, generation INTEGER NOT NULL);
CREATE INDEX removed_generation ON removed(generation);
INSERT INTO state VALUES (0, 0, 0);
"""
_MAX_VARS = 30_000  # below SQLite's limit of 32,766 bound parameters
_STREAM = 50_000  # rows per fetch when streaming vectors into the index
_ROTATE_CHUNK = 5_000  # templates re-encrypted per statement batch in a key rotation
#: ``encryption=`` of :meth:`SQLiteGallery.create`: the vectors (rows and index file), or also the whole
#: database with SQLCipher (:mod:`facetrust.gallery.sqlcipher`).
ENCRYPTIONS = ("aes-gcm", "sqlcipher")
#: A template's vector and its identity's id (the associated data of an encrypted vector);
#: a plain gallery does not need the join.
_VECTORS = ("SELECT t.id, t.vector, coalesce(i.id, '') FROM templates t "
            "LEFT JOIN identities i ON i.pk = t.identity_pk")
_PLAIN_VECTORS = "SELECT t.id, t.vector, NULL FROM templates t"
#: How long a write waits for another connection's write lock.
BUSY_TIMEOUT_S = 30.0
#: How long erasure waits for readers of older snapshots before it warns and scrubs in the background.
ERASURE_WAIT_S = 2.0
#: Interval of the background scrub's retries.
SCRUB_RETRY_S = 0.2


def _chunks(items: Sequence[Any], size: int = _MAX_VARS) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _marks(n: int) -> str:
    return ",".join("?" * n)


class SQLiteGallery:
    """Embedded gallery in one SQLite file plus its FAISS index file. Thread-safe (one lock)."""

    def __init__(self, path: Path, conn: sqlite3.Connection, meta: dict[str, str], readonly: bool,
                 index: IndexConfig, cipher: TemplateCipher | None = None) -> None:
        self.path = path
        self.location = str(path)
        self.readonly = readonly
        self.model = ModelIdentity.from_dict(json.loads(meta["model"]))
        self.index_config = index
        self._uuid = meta["uuid"]
        self._created_at = float(meta["created_at"])
        self._conn = conn
        self._lock = threading.RLock()
        self._index: TemplateIndex | None = None
        self._dirty = False  # the in-memory index holds changes the index file lacks
        self._wrote = False  # templates were added in this session: bring the index file up to date on close
        self._scrubber: threading.Thread | None = None
        self._face_column = "face"  # "NULL" for a read-only gallery made before template records had faces
        self._scrub_done = threading.Event()
        #: Encryption at rest (None: vectors are stored in clear).
        self.cipher = cipher
        #: The key of an SQLCipher database file (None: a plain SQLite file).
        self._page_key: ProtectionKey | None = None

    @property
    def _vector_rows(self) -> str:
        """SELECT of (template id, stored vector, identity id or NULL) over ``templates t``."""
        return _PLAIN_VECTORS if self.cipher is None else _VECTORS

    @property
    def index_path(self) -> Path:
        return self.path.with_name(self.path.name + ".index")

    # -- opening -----------------------------------------------------------
    @classmethod
    def create(cls, location: str | os.PathLike[str], model: ModelIdentity, index: IndexConfig | None = None,
               encryption_key: ProtectionKey | None = None, encryption: str = "aes-gcm") -> "SQLiteGallery":
        """``encryption`` (with ``encryption_key``): ``"aes-gcm"`` encrypts the vectors and the index
        file; ``"sqlcipher"`` also the whole database file (names, metadata, records) with SQLCipher."""
        path = Path(location)
        if encryption not in ENCRYPTIONS:
            raise ConfigError(f"encryption must be one of {', '.join(ENCRYPTIONS)}, got {encryption!r}")
        if encryption == "sqlcipher" and encryption_key is None:
            raise ConfigError("encryption='sqlcipher' needs an encryption key (encryption_key=, or encrypt=True "
                              "with the key in the environment)")
        page_key = encryption_key if encryption == "sqlcipher" else None
        check_config(model.dim, index or IndexConfig())
        if path.exists():
            raise GalleryError(f"{path} already exists")
        folder = path.parent if str(path.parent) else Path(".")
        if not folder.is_dir():
            raise GalleryError(f"cannot create {path}: folder {folder} does not exist")
        meta = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "uuid": uuid.uuid4().hex,
                "created_at": repr(time.time()), "model": json.dumps(model.to_dict()),
                "index": json.dumps((index or IndexConfig()).to_dict())}
        if encryption_key is not None:
            meta["encryption"] = json.dumps({**TemplateCipher(encryption_key).spec(),
                                             **({"database": "sqlcipher"} if page_key else {})})
            meta["format_version"] = str(ENCRYPTED_FORMAT_VERSION)
        # Built under a temporary name and linked into place: the gallery appears complete or not at all.
        tmp = folder / f".{path.name}.{os.getpid()}.creating"
        try:
            conn = connect(tmp, page_key)
            with conn:
                conn.executescript(_SCHEMA)
                conn.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
            conn.close()
            os.link(tmp, path)
        except FileExistsError:
            raise GalleryError(f"{path} already exists") from None
        except (OSError, *DB_ERROR) as exc:
            raise GalleryError(f"cannot create a gallery at {path}: {exc}") from None
        finally:
            _unlink_quietly(tmp)
        # An index file left by an earlier gallery of the same name belongs to that one.
        Path(str(path) + ".index").unlink(missing_ok=True)
        return cls.open(path, index=index, encryption_key=encryption_key)

    @classmethod
    def open(cls, location: str | os.PathLike[str], readonly: bool = False, index: IndexConfig | None = None,
             encryption_key: KeySource = None, encryption: str | None = None) -> "SQLiteGallery":
        """``encryption_key``: the key of an encrypted gallery (a key, a key file; None:
        ``$FACETRUST_ENCRYPTION_KEY`` or ``$FACETRUST_ENCRYPTION_KEY_FILE``); refused for a plain one.
        ``encryption`` (None: whatever the file has) is what the caller expects, checked against the file:
        a gallery encrypted otherwise is a :class:`ConfigError`, not silently a weaker one."""
        if encryption is not None and encryption not in ENCRYPTIONS:
            raise ConfigError(f"encryption must be one of {', '.join(ENCRYPTIONS)}, got {encryption!r}")
        path = Path(location)
        if not path.is_file():
            raise GalleryError(f"no gallery at {path}")
        page_key = _page_key(path, encryption_key)
        conn = _connect(path, readonly, page_key=page_key)
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        except OPERATIONAL_ERROR as exc:
            conn.close()
            if "no such table" in str(exc):
                raise GalleryError(f"{path} is not a facetrust gallery (a database without its tables)") from None
            error = storage_error(path, exc, path.parent)
            if isinstance(error, StorageFullError):
                raise error from None
            if readonly and not _has_wal(path):
                # A read-only folder: SQLite cannot create its shared-memory file there. Without a
                # write-ahead log to replay, the database file alone is the complete gallery.
                conn = _connect(path, readonly, immutable=True, page_key=page_key)
                meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            else:
                hint = "" if readonly else "; open it read-only instead"
                raise GalleryError(f"cannot open {path} ({exc}: read-only location?){hint}") from None
        except DATABASE_ERROR as exc:
            conn.close()
            if page_key is not None and getattr(exc, "sqlite_errorcode", 0) & 0xFF == 26:  # SQLITE_NOTADB
                raise WrongKeyError(f"{path} cannot be decrypted with key {page_key.fingerprint}: the wrong key "
                                    "(an SQLCipher gallery), or not a facetrust gallery") from None
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF == 11:  # SQLITE_CORRUPT: a gallery with a damaged page
                raise storage_error(path, exc) from None
            raise GalleryError(f"{path} is not a facetrust gallery ({exc})") from None
        if meta.get("format") != FORMAT or "model" not in meta:
            conn.close()
            raise GalleryError(f"{path} is not a facetrust gallery")
        if int(meta.get("format_version", 0)) > ENCRYPTED_FORMAT_VERSION:
            conn.close()
            raise GalleryError(f"{path} was written by a newer facetrust (format {meta['format_version']})")
        try:
            cipher = open_cipher(json.loads(meta["encryption"]) if "encryption" in meta else None,
                                 encryption_key, f"gallery {path}")
        except BaseException:
            conn.close()
            raise
        try:
            conn.execute("PRAGMA secure_delete=ON")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=FULL")
            if not readonly:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("BEGIN IMMEDIATE")  # fail now, not mid-enrolment, when the location is read-only
                conn.execute("COMMIT")
        except OPERATIONAL_ERROR as exc:
            conn.close()
            error = storage_error(path, exc, path.parent)
            if isinstance(error, StorageFullError):
                raise error from None
            raise GalleryError(f"cannot write to {path} ({exc}); open it read-only instead") from None
        stored = IndexConfig.from_dict(json.loads(meta.get("index", "{}")))
        try:
            check_config(ModelIdentity.from_dict(json.loads(meta["model"])).dim, index or stored)
        except ConfigError:
            conn.close()
            raise
        columns = {r[1] for r in conn.execute("PRAGMA table_info(templates)")}
        if "face" not in columns and not readonly:  # a gallery from before template records had faces
            conn.execute("ALTER TABLE templates ADD COLUMN face TEXT")
            columns.add("face")
        has = "sqlcipher" if page_key is not None else "aes-gcm" if cipher is not None else None
        if encryption is not None and encryption != has:
            conn.close()
            raise ConfigError(f"{path} is {'not encrypted' if has is None else f'encrypted with {has}'}, "
                              f"not encryption={encryption!r}")
        gallery = cls(path, conn, meta, readonly, index or stored, cipher)
        gallery._page_key = page_key
        gallery._face_column = "face" if "face" in columns else "NULL"
        if not readonly and _has_wal(path):
            with gallery._lock:  # finish the scrub of a removal that readers delayed (see _erase_copies)
                gallery._checkpoint(0.0)
        if index is not None and index != stored and not readonly:
            with gallery._write() as c:
                c.execute("UPDATE meta SET value = ? WHERE key = 'index'", (json.dumps(index.to_dict()),))
        return gallery

    # -- transactions --------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        if self.readonly:
            raise GalleryError(f"{self.path} is open read-only")
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except DB_ERROR as exc:
                raise storage_error(f"cannot write to {self.path}", exc, self.path.parent) from None
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException as exc:
                if self._conn.in_transaction:
                    try:
                        self._conn.execute("ROLLBACK")
                    except DB_ERROR:
                        pass  # SQLite rolled back itself (e.g. after an I/O error)
                if isinstance(exc, DB_ERROR):
                    raise storage_error(self.path, exc, self.path.parent) from None
                raise

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot (one read transaction), reentrant."""
        with self._lock:
            if self._conn.in_transaction:
                yield self._conn
                return
            try:
                self._conn.execute("BEGIN")
                try:
                    yield self._conn
                finally:
                    if self._conn.in_transaction:
                        self._conn.execute("COMMIT")
            except DB_ERROR as exc:
                raise storage_error(self.path, exc) from None

    @staticmethod
    def _bump(c: sqlite3.Connection) -> int:
        c.execute("UPDATE state SET generation = generation + 1")
        return int(c.execute("SELECT generation FROM state").fetchone()[0])

    # -- writes --------------------------------------------------------------
    def enroll(self, records: Sequence[tuple[str, str | None, str, Sequence[NewTemplate]]],
               on_duplicate: OnDuplicate = "error") -> list[str]:
        ids = [r[0] for r in records]
        if len(set(ids)) != len(ids):
            dupes = sorted(i for i, n in Counter(ids).items() if n > 1)
            raise DuplicateIdentityError(f"identity id(s) given twice: {', '.join(dupes[:5])}")
        with self._write() as c:
            existing = self._existing(c, ids)
            if existing and on_duplicate == "error":
                shown = ", ".join(sorted(existing)[:5])
                raise DuplicateIdentityError(f"already enrolled: {shown}{' …' if len(existing) > 5 else ''}")
            now = time.time()
            fresh = [r for r in records if r[0] not in existing]
            (last_pk,) = c.execute("SELECT coalesce(max(pk), 0) FROM identities").fetchone()
            c.executemany("INSERT INTO identities (id, name, metadata, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                          [(ident, name, meta, now, now) for ident, name, meta, _ in fresh])
            pks = dict(c.execute("SELECT id, pk FROM identities WHERE pk > ?", (last_pk,)).fetchall())
            ids = iter(range(self._next_template_id(c), 2**63))
            c.executemany("INSERT INTO templates (id, identity_pk, vector, quality, source, created_at, face) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?)",
                          [(tid, pks[ident], self._stored(t.vector, tid, ident), t.quality, t.source, now, t.face_json())
                           for ident, _, _, templates in fresh for t in templates for tid in (next(ids),)])
            inserted = [r[0] for r in fresh]
            if inserted:
                self._bump(c)
                self._wrote = True
        return inserted

    def add_templates(self, identity_id: str, templates: Sequence[NewTemplate]) -> list[int]:
        with self._write() as c:
            pk = self._pk(c, identity_id)
            now = time.time()
            first = self._next_template_id(c)
            new_ids = list(range(first, first + len(templates)))
            c.executemany("INSERT INTO templates (id, identity_pk, vector, quality, source, created_at, face) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?)",
                          [(tid, pk, self._stored(t.vector, tid, identity_id), t.quality, t.source, now, t.face_json())
                           for tid, t in zip(new_ids, templates)])
            c.execute("UPDATE identities SET updated_at = ? WHERE pk = ?", (now, pk))
            self._bump(c)
            self._wrote = True
        return new_ids

    @staticmethod
    def _next_template_id(c: sqlite3.Connection) -> int:
        """The id AUTOINCREMENT would give the next template (call under the write lock)."""
        row = c.execute("SELECT seq FROM sqlite_sequence WHERE name = 'templates'").fetchone()
        (top,) = c.execute("SELECT coalesce(max(id), 0) FROM templates").fetchone()
        return max(int(top), int(row[0]) if row else 0) + 1

    def _stored(self, vector: np.ndarray, template_id: int, identity_id: str) -> bytes:
        """What the vector column holds: float32 bytes, AES-GCM encrypted in an encrypted gallery."""
        blob = _blob(vector)
        if self.cipher is None:
            return blob
        return self.cipher.seal(blob, template_data(self._uuid, template_id, identity_id))

    def _plain(self, blob: Any, template_id: int, identity_id: str) -> Any:
        """The float32 bytes of a stored vector: authenticated and decrypted in an encrypted gallery
        (:class:`CorruptDataError` naming the template when it was tampered with)."""
        if self.cipher is None:
            return blob
        return self.cipher.open(blob, template_data(self._uuid, template_id, identity_id),
                                f"{self.path}: template {template_id} of identity {identity_id!r}")

    def update(self, identity_id: str, name: str | None, metadata_json: str | None) -> Identity:
        with self._write() as c:
            pk = self._pk(c, identity_id)
            if name is not None:
                c.execute("UPDATE identities SET name = ? WHERE pk = ?", (name, pk))
            if metadata_json is not None:
                c.execute("UPDATE identities SET metadata = ? WHERE pk = ?", (metadata_json, pk))
            c.execute("UPDATE identities SET updated_at = ? WHERE pk = ?", (time.time(), pk))
        return self.get(identity_id)

    def remove(self, identity_ids: Sequence[str]) -> int:
        ids = list(dict.fromkeys(identity_ids))
        with self._write() as c:
            found = {}
            for chunk in _chunks(ids):
                found.update(c.execute(f"SELECT id, pk FROM identities WHERE id IN ({_marks(len(chunk))})",
                                       list(chunk)).fetchall())
            missing = [i for i in ids if i not in found]
            if missing:
                raise IdentityNotFoundError(f"not enrolled: {', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}")
            pks = list(found.values())
            template_ids: list[int] = []
            for chunk in _chunks(pks):
                template_ids += [r[0] for r in c.execute(
                    f"SELECT id FROM templates WHERE identity_pk IN ({_marks(len(chunk))})", list(chunk))]
            self._log_removed(c, template_ids)
            for chunk in _chunks(pks):
                c.execute(f"DELETE FROM identities WHERE pk IN ({_marks(len(chunk))})", list(chunk))
        self._erase_copies_committed()
        return len(template_ids)

    def remove_template(self, template_id: int) -> None:
        with self._write() as c:
            row = c.execute("SELECT identity_pk FROM templates WHERE id = ?", (int(template_id),)).fetchone()
            if row is None:
                raise IdentityNotFoundError(f"no template with id {template_id}")
            (count,) = c.execute("SELECT count(*) FROM templates WHERE identity_pk = ?", row).fetchone()
            if count == 1:
                raise GalleryError(f"template {template_id} is its identity's only one; remove the identity instead")
            self._log_removed(c, [int(template_id)])
            c.execute("DELETE FROM templates WHERE id = ?", (int(template_id),))
            c.execute("UPDATE identities SET updated_at = ? WHERE pk = ?", (time.time(), row[0]))
        self._erase_copies_committed()

    def _log_removed(self, c: sqlite3.Connection, template_ids: list[int]) -> None:
        generation = self._bump(c)
        c.executemany("INSERT OR REPLACE INTO removed VALUES (?, ?)", [(t, generation) for t in template_ids])

    def _erase_copies_committed(self) -> None:
        """:meth:`_erase_copies` after a removal committed: a failure (a full disk) must not report
        the removal as failed. The index file, which may still hold the removed vectors, is deleted
        (it is rebuilt from the database) and the failure becomes an :class:`ErasureWarning`."""
        try:
            self._erase_copies()
        except StorageError as exc:
            with self._lock:
                self._index = None
                _unlink_quietly(self.index_path)
                try:  # needs no new space: the zeroed pages overwrite the old ones and the log is emptied
                    scrubbed = self._checkpoint(ERASURE_WAIT_S)
                except StorageError:
                    scrubbed = False
                if not scrubbed:
                    self._start_scrubber()
            later = "" if scrubbed else "; the old pages are wiped by a retry while it is open, else at the next open"
            warnings.warn(ErasureWarning(
                f"the removal committed, but rewriting the index failed: {exc}; the index file was deleted "
                f"instead (rebuilt from the database at the next search){later}"), stacklevel=4)

    def _erase_copies(self) -> None:
        """After a removal commits: rewrite the index file without the removed vectors and
        checkpoint the write-ahead log so the zeroed pages replace the old ones on disk.

        A reader in another connection holding an older snapshot keeps the old pages in use;
        the checkpoint then waits at most :data:`ERASURE_WAIT_S`, warns (:class:`ErasureWarning`)
        and a background thread finishes the scrub as soon as the readers leave."""
        with self._lock:
            if self._index is not None or self.index_path.exists():
                self.flush()
            if self._checkpoint(ERASURE_WAIT_S):
                return
            self._start_scrubber()
        warnings.warn(ErasureWarning(
            f"{self.path}: the removal committed, but another connection is reading an older snapshot, so "
            f"the removed data stay in the database / -wal file until it finishes; they are wiped as soon "
            f"as it does (by this process while the gallery is open, else at the next open)"), stacklevel=4)

    def _checkpoint(self, wait_s: float) -> bool:
        """``wal_checkpoint(TRUNCATE)``, waiting at most ``wait_s`` for readers; True when the log
        was copied into the database file and emptied. Call under the lock."""
        self._conn.execute(f"PRAGMA busy_timeout = {int(wait_s * 1000)}")
        try:
            busy, _log, _done = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except DB_ERROR as exc:
            raise storage_error(self.path, exc) from None
        finally:
            self._conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        return not busy

    def _start_scrubber(self) -> None:
        if self._scrubber is None or not self._scrubber.is_alive():
            self._scrub_done.clear()
            self._scrubber = threading.Thread(target=self._scrub, name=f"scrub {self.path.name}", daemon=True)
            self._scrubber.start()

    def _scrub(self) -> None:
        """Retry the checkpoint until it succeeds (the readers left) or the gallery closes."""
        while not self._scrub_done.wait(SCRUB_RETRY_S):
            with self._lock:
                if self._conn is None:
                    return
                try:
                    if self._checkpoint(0.0):
                        self._scrub_done.set()
                except GalleryError:
                    pass  # retried until the gallery closes; the next open finishes the scrub

    @property
    def scrub_pending(self) -> bool:
        """A removal's old pages are still waiting for readers to leave (see :meth:`_erase_copies`)."""
        return self._scrubber is not None and self._scrubber.is_alive()

    # -- reads ---------------------------------------------------------------
    def _pk(self, c: sqlite3.Connection, identity_id: str) -> int:
        row = c.execute("SELECT pk FROM identities WHERE id = ?", (identity_id,)).fetchone()
        if row is None:
            raise IdentityNotFoundError(f"not enrolled: {identity_id}")
        return int(row[0])

    @staticmethod
    def _existing(c: sqlite3.Connection, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(list(ids)):
            found.update(r[0] for r in c.execute(f"SELECT id FROM identities WHERE id IN ({_marks(len(chunk))})",
                                                 list(chunk)))
        return found

    def existing(self, identity_ids: Sequence[str]) -> set[str]:
        with self._read() as c:
            return self._existing(c, identity_ids)

    def counts(self) -> tuple[int, int]:
        with self._read() as c:
            (identities,) = c.execute("SELECT count(*) FROM identities").fetchone()
            (templates,) = c.execute("SELECT count(*) FROM templates").fetchone()
        return int(identities), int(templates)

    def get(self, identity_id: str) -> Identity:
        with self._read() as c:
            row = c.execute("SELECT pk, id, name, metadata, created_at, updated_at FROM identities WHERE id = ?",
                            (identity_id,)).fetchone()
            if row is None:
                raise IdentityNotFoundError(f"not enrolled: {identity_id}")
            return self._identities(c, [row])[0]

    def list(self, offset: int = 0, limit: int | None = None) -> list[Identity]:
        with self._read() as c:
            rows = c.execute("SELECT pk, id, name, metadata, created_at, updated_at FROM identities "
                             "ORDER BY pk LIMIT ? OFFSET ?", (-1 if limit is None else limit, offset)).fetchall()
            return self._identities(c, rows)

    def _identities(self, c: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> list[Identity]:
        templates: dict[int, list[Template]] = {}
        pks = [r[0] for r in rows]
        for chunk in _chunks(pks):
            for pk, tid, quality, source, created, face in c.execute(
                    f"SELECT identity_pk, id, quality, source, created_at, {self._face_column} FROM templates "
                    f"WHERE identity_pk IN ({_marks(len(chunk))}) ORDER BY id", list(chunk)):
                templates.setdefault(pk, []).append(Template.from_row(tid, quality, source, created, face))
        return [Identity(ident, name, json.loads(meta), created, updated, tuple(templates.get(pk, ())))
                for pk, ident, name, meta, created, updated in rows]

    def templates_of(self, identity_ids: Sequence[str]) -> dict[str, tuple[list[float | None], np.ndarray]]:
        qualities: dict[str, list[float | None]] = {}
        blobs: dict[str, list[bytes]] = {}
        with self._read() as c:
            for chunk in _chunks(list(identity_ids)):
                for ident, quality, tid, stored in c.execute(
                        f"SELECT i.id, t.quality, t.id, t.vector FROM templates t JOIN identities i ON i.pk = t.identity_pk "
                        f"WHERE i.id IN ({_marks(len(chunk))}) ORDER BY t.id", list(chunk)):
                    blob = self._plain(stored, tid, ident)
                    if damaged_vector(blob, self.model.dim):
                        continue  # left out of the index too (see _add_new)
                    qualities.setdefault(ident, []).append(quality)
                    blobs.setdefault(ident, []).append(blob)
        return {i: (qualities[i], _vectors(blobs[i], self.model.dim)) for i in qualities}

    def iter_export(self, damaged: list[int] | None = None) -> Iterator[tuple[Identity, np.ndarray]]:
        """Streams a consistent snapshot through a separate read-only connection. Templates with a
        damaged vector are left out and their ids appended to ``damaged``; an identity left
        without templates is left out."""
        try:
            yield from self._iter_export(damaged if damaged is not None else [])
        except DB_ERROR as exc:
            raise storage_error(self.path, exc) from None

    def _iter_export(self, damaged: list[int]) -> Iterator[tuple[Identity, np.ndarray]]:
        uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
        conn = connect(uri, self._page_key, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_S)
        try:
            conn.execute("BEGIN")
            last = 0
            while True:
                rows = conn.execute("SELECT pk, id, name, metadata, created_at, updated_at FROM identities "
                                    "WHERE pk > ? ORDER BY pk LIMIT 1000", (last,)).fetchall()
                if not rows:
                    break
                last = rows[-1][0]
                idents = {r[0]: r[1] for r in rows}
                vectors: dict[int, dict[int, bytes]] = {}
                for pk, tid, stored in conn.execute(
                        f"SELECT identity_pk, id, vector FROM templates WHERE identity_pk IN ({_marks(len(rows))}) "
                        "ORDER BY id", [r[0] for r in rows]):
                    blob = self._plain(stored, tid, idents[pk])
                    if damaged_vector(blob, self.model.dim):
                        damaged.append(tid)
                    else:
                        vectors.setdefault(pk, {})[tid] = blob
                for row, identity in zip(rows, self._identities(conn, rows)):
                    good = vectors.get(row[0], {})
                    if len(good) < len(identity.templates):
                        identity = replace(identity, templates=tuple(t for t in identity.templates if t.id in good))
                    if identity.templates:
                        yield identity, _vectors([good[t.id] for t in identity.templates], self.model.dim)
        finally:
            conn.close()

    # -- the index -----------------------------------------------------------
    def _sync(self, c: sqlite3.Connection) -> TemplateIndex:
        """The index, loaded or built if needed and brought up to the snapshot's generation.
        Call inside a transaction."""
        generation, log_since = c.execute("SELECT generation, log_since FROM state").fetchone()
        index = self._index
        if index is not None and not (log_since <= index.stamp.generation <= generation):
            index = None  # removals it missed were pruned from the log (or the database went back in time)
        if index is None:
            index = self._load(c, generation, log_since) or self._build(c, generation)
            self._index = index
        if index.stamp.generation != generation:
            removed = np.array([r[0] for r in c.execute("SELECT template_id FROM removed WHERE generation > ?",
                                                        (index.stamp.generation,))], dtype=np.int64)
            index.remove(removed)
            self._add_new(c, index)
            index.stamp.generation = generation
            self._dirty = True
        return index

    def _load(self, c: sqlite3.Connection, generation: int, log_since: int) -> TemplateIndex | None:
        if not self.index_path.exists():
            return None
        try:
            index = TemplateIndex.load(self.index_path, self.model.dim, self._uuid,
                                       None if self.cipher is None else self._open_index)
        except (IndexFileError, OSError) as exc:
            warnings.warn(GalleryIndexWarning(f"{self.index_path}: {exc}; rebuilding it from the database"),
                          stacklevel=4)
            return None
        if not log_since <= index.stamp.generation <= generation:
            warnings.warn(GalleryIndexWarning(
                f"{self.index_path} is from generation {index.stamp.generation}, the database is at "
                f"{generation} and no longer logs the removals up to {log_since}; rebuilding it from the database"),
                stacklevel=4)
            return None
        index.config = self.index_config
        (count,) = c.execute("SELECT count(*) FROM templates").fetchone()
        return None if self._wants_rebuild(index, count) else index

    def _open_index(self, payload: bytes) -> bytes:
        """The serialised index of an encrypted gallery's index file, decrypted in memory."""
        try:
            return self.cipher.open(payload, index_data(self._uuid), "the index file")  # type: ignore[union-attr]
        except CorruptDataError:
            raise IndexFileError("the index file fails its authentication (tampered with, or encrypted with "
                                 "another key by a key rotation that was interrupted)") from None

    def _wants_rebuild(self, index: TemplateIndex, count: int) -> bool:
        return planned_kind(count, self.index_config, index.kind) != index.kind or index.stale(count)

    def _build(self, c: sqlite3.Connection, generation: int) -> TemplateIndex:
        all_ids = np.array([r[0] for r in c.execute("SELECT id FROM templates ORDER BY id")], dtype=np.int64)
        kind = planned_kind(len(all_ids), self.index_config)
        stamp = IndexStamp(generation, 0, len(all_ids))
        training = None
        size = TemplateIndex.training_size(len(all_ids), kind, self.index_config)
        if size:
            sample = np.sort(np.random.default_rng(0).choice(all_ids, size, replace=False))
            training = self._fetch_vectors(c, sample)
        index = TemplateIndex.empty(self.model.dim, kind, stamp, self.index_config, training)
        self._add_new(c, index)
        self._dirty = True
        return index

    def _fetch_vectors(self, c: sqlite3.Connection, ids: np.ndarray) -> np.ndarray:
        """Vectors of the given templates, damaged ones left out (an IVF training sample)."""
        blobs = []
        for chunk in _chunks(ids.tolist()):
            blobs += [self._plain(stored, tid, ident) for tid, stored, ident in c.execute(
                f"{self._vector_rows} WHERE t.id IN ({_marks(len(chunk))}) ORDER BY t.id", chunk)]
        return _vectors([b for b in blobs if not damaged_vector(b, self.model.dim)], self.model.dim)

    def _add_new(self, c: sqlite3.Connection, index: TemplateIndex) -> None:
        cursor = c.execute(f"{self._vector_rows} WHERE t.id > ? ORDER BY t.id", (index.stamp.max_template_id,))
        damaged: list[int] = []
        while rows := cursor.fetchmany(_STREAM):
            if self.cipher is not None:
                rows = [(tid, self._plain(stored, tid, ident)) for tid, stored, ident in rows]
            good = [r for r in rows if not damaged_vector(r[1], self.model.dim)]
            damaged += [r[0] for r in rows if damaged_vector(r[1], self.model.dim)]
            if good:
                ids = np.fromiter((r[0] for r in good), dtype=np.int64, count=len(good))
                index.add(ids, _vectors([r[1] for r in good], self.model.dim))
            index.stamp.max_template_id = int(rows[-1][0])
        if damaged:
            warnings.warn(DamagedTemplateWarning(
                f"{self.path}: {len(damaged)} template(s) with a damaged vector left out of the index "
                f"(ids {_shown(damaged)}); remove them or restore the gallery"), stacklevel=5)

    def search(self, vectors: np.ndarray, k: int) -> list[list[Candidate]]:
        with self._read() as c:
            index = self._sync(c)
            # Flat and HNSW scores are exact: k candidates suffice. PQ and IVF rank by codes: more
            # candidates are re-scored exactly so quantisation error cannot change the top k.
            want = min(index.ntotal, k if index.exact else max(index.rescore, 2 * k))
            results: list[list[Candidate]] = [[] for _ in range(len(vectors))]
            todo = np.arange(len(vectors))
            while want and len(todo):
                _, ids = index.search(vectors[todo], want)
                found = self._rescore(c, vectors[todo], ids)
                short = []
                for row, query in enumerate(todo):
                    results[query] = found[row]
                    # Several templates of one identity can fill the candidate list: ask for more.
                    if distinct_identities(found[row]) < k and (ids[row] >= 0).sum() == want:
                        short.append(query)
                if want >= index.ntotal:
                    break
                todo, want = np.array(short, dtype=np.int64), min(index.ntotal, want * 4)
            return results

    def _rescore(self, c: sqlite3.Connection, queries: np.ndarray, ids: np.ndarray) -> list[list[Candidate]]:
        """Exact cosine of each candidate from the stored float32 vector (the IVF index only
        ranks approximately), sorted best first."""
        unique = np.unique(ids[ids >= 0])
        rows: dict[int, tuple[str, str | None, bytes]] = {}
        for chunk in _chunks(unique.tolist()):
            for tid, stored, ident, name in c.execute(
                    f"SELECT t.id, t.vector, i.id, i.name FROM templates t JOIN identities i ON i.pk = t.identity_pk "
                    f"WHERE t.id IN ({_marks(len(chunk))})", chunk):
                blob = self._plain(stored, tid, ident)
                if not damaged_vector(blob, self.model.dim):  # damaged since it was indexed: left out
                    rows[tid] = (ident, name, blob)
        present = [t for t in unique.tolist() if t in rows]
        position = {t: j for j, t in enumerate(present)}
        matrix = _vectors([rows[t][2] for t in present], self.model.dim)
        out = []
        for query, query_ids in zip(queries, ids):
            kept = [t for t in query_ids.tolist() if t in position]
            scores = matrix[[position[t] for t in kept]] @ query
            order = np.argsort(-scores, kind="stable")
            out.append([Candidate(kept[j], rows[kept[j]][0], rows[kept[j]][1], float(scores[j])) for j in order])
        return out

    # -- maintenance -----------------------------------------------------------
    def flush(self) -> None:
        """Bring the index file up to date (and rebuild the index if the gallery outgrew it)."""
        if self.readonly:
            return
        with self._write() as c:
            index = self._sync(c)
            (count,) = c.execute("SELECT count(*) FROM templates").fetchone()
            if self._wants_rebuild(index, count):
                self._index = index = self._build(c, index.stamp.generation)
            if self._dirty or not self.index_path.exists():
                self._save(c, index)
            self._wrote = False

    def reindex(self) -> None:
        """Rebuild the index from the database now and save it."""
        with self._write() as c:
            self._index = None
            (generation,) = c.execute("SELECT generation FROM state").fetchone()
            self._index = index = self._build(c, generation)
            self._save(c, index)

    def _save(self, c: sqlite3.Connection, index: TemplateIndex) -> None:
        """Called under the write lock, so no removal can commit between catching up and renaming
        the file; the removals up to this generation need no log any more."""
        try:
            index.save(self.index_path, self._uuid,
                       None if self.cipher is None else lambda payload: self.cipher.seal(payload, index_data(self._uuid)))
        except OSError as exc:
            raise storage_error(f"cannot write the index file {self.index_path}", exc) from None
        # log_since = the newest generation whose removals are no longer logged: an index file at
        # an older generation cannot learn about them and must be rebuilt.
        (pruned,) = c.execute("SELECT max(generation) FROM removed WHERE generation <= ?",
                              (index.stamp.generation,)).fetchone()
        if pruned is not None:
            c.execute("DELETE FROM removed WHERE generation <= ?", (pruned,))
            c.execute("UPDATE state SET log_since = max(log_since, ?)", (pruned,))
        self._dirty = False

    def rotate_encryption(self, new_key: ProtectionKey, progress: Callable[[int, int], None] | None = None) -> int:
        """Re-encrypt every template under ``new_key`` in one transaction, then the index file;
        returns the number of templates. A crash before the commit leaves the gallery under the
        old key, after it under the new one (an index file still under the old key fails its
        authentication and is rebuilt). ``progress(done, total)`` is called after each batch.
        The log is then checkpointed so no page under the old key stays in the -wal file."""
        if self.cipher is None:
            raise ConfigError(f"{self.path} is not encrypted: there is no key to rotate")
        if self._page_key is not None:
            # SQLCipher's rekey commits on its own: it cannot share one transaction with the rows'
            # re-encryption, so a crash between the two would leave a gallery no single key opens.
            raise ConfigError(f"{self.path} is an SQLCipher gallery: rotate its key by exporting it and importing "
                              "the export into a new gallery under the new key (Gallery.from_export)")
        new = TemplateCipher(new_key)
        if new.fingerprint == self.cipher.fingerprint:
            raise ConfigError(f"the new key is the current key of {self.path} (fingerprint {new.fingerprint})")
        with self._write() as c:
            self._sync(c)  # the index, in memory and up to date, before the key changes
            (total,) = c.execute("SELECT count(*) FROM templates").fetchone()
            done, last = 0, 0
            while rows := c.execute(f"{_VECTORS} WHERE t.id > ? ORDER BY t.id LIMIT ?",
                                    (last, _ROTATE_CHUNK)).fetchall():
                c.executemany("UPDATE templates SET vector = ? WHERE id = ?",
                              [(new.seal(self._plain(stored, tid, ident), template_data(self._uuid, tid, ident)), tid)
                               for tid, stored, ident in rows])
                done, last = done + len(rows), rows[-1][0]
                if progress is not None:
                    progress(done, int(total))
            c.execute("UPDATE meta SET value = ? WHERE key = 'encryption'", (json.dumps(new.spec()),))
        self.cipher = new
        with self._lock:
            self._dirty = True
            self.flush()  # the index file, under the new key
            if not self._checkpoint(ERASURE_WAIT_S):
                self._start_scrubber()
                warnings.warn(ErasureWarning(
                    f"{self.path}: the key rotation committed, but another connection is reading an older snapshot, "
                    "so pages under the old key stay in the -wal file until it finishes"), stacklevel=2)
        return done

    def stats(self) -> dict[str, Any]:
        identities, templates = self.counts()
        with self._read() as c:
            (generation,) = c.execute("SELECT generation FROM state").fetchone()
            index = self._sync(c)
        sizes = {name: p.stat().st_size for name, p in (("database", self.path), ("wal", Path(f"{self.path}-wal")),
                                                         ("index", self.index_path)) if p.exists()}
        return {
            "backend": "sqlite", "location": self.location, "model": self.model.to_dict(),
            "created_at": iso_time(self._created_at), "identities": identities, "templates": templates,
            "generation": generation, "files_bytes": sizes,
            "encryption": None if self.cipher is None else {
                **self.cipher.spec(), **({"database": "sqlcipher"} if self._page_key is not None else {})},
            "index": {**index.describe(), "trained_for": index.stamp.trained_for if index.kind in ("ivf", "ivfpq") else None,
                      "config": self.index_config.to_dict()},
        }

    def check(self) -> IntegrityReport:
        """SQLite's integrity and foreign-key checks, vector sizes, and index == templates."""
        with self._read() as c:
            problems = [f"sqlite: {r[0]}" for r in c.execute("PRAGMA integrity_check") if r[0] != "ok"]
            problems += [f"foreign key: template row {r[1]} points to a missing identity"
                         for r in c.execute("PRAGMA foreign_key_check")]
            stored_ids, damaged, forged = [], [], []
            for tid, stored, ident in c.execute(self._vector_rows):
                try:
                    blob = self._plain(stored, tid, ident)
                except CorruptDataError:
                    forged.append(tid)
                    continue
                (damaged if damaged_vector(blob, self.model.dim) else stored_ids).append(tid)
            if forged:
                problems.append(f"{len(forged)} encrypted template(s) fail authentication (tampered with or damaged; "
                                f"ids {_shown(forged)}): remove them or restore the gallery")
            if damaged:
                problems.append(f"{len(damaged)} template(s) have a damaged vector (wrong size or not finite; ids "
                                f"{_shown(damaged)}), left out of search: remove them or restore the gallery")
            (empty,) = c.execute("SELECT count(*) FROM identities i WHERE NOT EXISTS "
                                 "(SELECT 1 FROM templates t WHERE t.identity_pk = i.pk)").fetchone()
            if empty:
                problems.append(f"{empty} identit{'y has' if empty == 1 else 'ies have'} no template")
            (identities,) = c.execute("SELECT count(*) FROM identities").fetchone()
            stored = np.array(stored_ids, dtype=np.int64)
            try:
                indexed = self._sync(c).ids()
            except CorruptDataError:  # a tampered template (reported above) stops the index from loading
                return IntegrityReport(int(identities), len(stored) + len(damaged) + len(forged), None, problems)
            if len(np.unique(indexed)) != len(indexed):
                problems.append("the index holds duplicate template ids")
            missing, extra = np.setdiff1d(stored, indexed), np.setdiff1d(indexed, stored)
            if len(missing):
                problems.append(f"{len(missing)} template(s) missing from the index")
            if len(extra):
                problems.append(f"{len(extra)} index entr{'y' if len(extra) == 1 else 'ies'} without a template")
        return IntegrityReport(int(identities), len(stored) + len(damaged) + len(forged), len(indexed), problems)

    def close(self) -> None:
        with self._lock:
            if self._conn is None:
                return
            pending = self.scrub_pending
            self._scrub_done.set()  # stops the background scrub; the last try is below, else the next open
            try:
                if (self._dirty or self._wrote) and not self.readonly:
                    try:
                        self.flush()
                    except (StorageError, ConfigError) as exc:  # the index file is a cache: the database is complete
                        warnings.warn(GalleryIndexWarning(f"{exc}; the index catches up at the next open"),
                                      stacklevel=3)
                if pending:
                    self._checkpoint(0.0)
            finally:
                self._conn.close()
                self._conn = None  # type: ignore[assignment]
                self._index = None


def stored_encryption(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The encryption spec recorded in a gallery file (None: not encrypted), read without a key
    (an SQLCipher file says only that it is one)."""
    if is_sqlcipher_file(Path(path)):
        return {"cipher": "AES-256-GCM", "database": "sqlcipher", "key_fingerprint": None}
    conn = _connect(Path(path), True)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'encryption'").fetchone()
    except DB_ERROR as exc:
        raise GalleryError(f"{path} is not a readable facetrust gallery ({exc})") from None
    finally:
        conn.close()
    return None if row is None else json.loads(row[0])


def _page_key(path: Path, encryption_key: KeySource) -> ProtectionKey | None:
    """The key an SQLCipher gallery file needs (None for a plain SQLite file)."""
    if not is_sqlcipher_file(path):
        return None
    try:
        return load_encryption_key(encryption_key)
    except PrivacyKeyError as exc:
        # Random bytes and an SQLCipher file look alike: say both.
        raise GalleryError(f"{path} is not a facetrust gallery (no SQLite header), or an SQLCipher gallery "
                           f"opened without its key ({exc})") from None


def _connect(path: Path, readonly: bool, immutable: bool = False,
             page_key: ProtectionKey | None = None) -> sqlite3.Connection:
    mode = "ro" if readonly else "rw"
    uri = f"file:{quote(str(path.resolve()))}?mode={mode}{'&immutable=1' if immutable else ''}"
    try:
        return connect(uri, page_key, uri=True, isolation_level=None, check_same_thread=False,
                       timeout=BUSY_TIMEOUT_S)
    except DB_ERROR as exc:
        raise GalleryError(f"cannot open {path}: {exc}") from None


def _has_wal(path: Path) -> bool:
    wal = Path(f"{path}-wal")
    return wal.exists() and wal.stat().st_size > 0


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def _shown(ids: Sequence[Any], limit: int = 10) -> str:
    return ", ".join(map(str, ids[:limit])) + (" …" if len(ids) > limit else "")


def _blob(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def _vectors(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), dim).astype(np.float32, copy=False)
