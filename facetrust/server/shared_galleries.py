"""Galleries of several server instances, in the shared PostgreSQL database (``database_url``).

A registry table maps each gallery name to its pgvector gallery's schema
(:class:`~facetrust.server.database.SharedDatabase`). Every read and search runs in the
database, so an identity enrolled or erased through one instance is found or gone on
every other at its next request; an instance keeps only its open connections.

Encrypted galleries (``encrypt_galleries``, the key from ``encryption_key_file`` or the
environment, as for galleries on disk) store AES-256-GCM ciphertext that pgvector cannot
search: each instance searches the decrypted vectors in its memory, refreshed from the database
whenever another instance changed the gallery (:mod:`facetrust.gallery.postgres_sealed`).
"""
from __future__ import annotations

import threading
from typing import Any

from facetrust.gallery import Gallery
from facetrust.server.database import SharedDatabase
from facetrust.server.errors import ConflictError, NotFoundError
from facetrust.server.galleries import check_gallery_name, get_or_create


class SharedGalleries:
    """The galleries of the shared database, by name (the interface of ``galleries.Galleries``)."""

    def __init__(self, database: SharedDatabase, recognizer: str, encrypt: bool = False,
                 encryption_key_file: str | None = None) -> None:
        from facetrust.privacy.encryption import load_encryption_key

        self.database = database
        self.recognizer = recognizer
        self.encrypt = encrypt
        self._open: dict[str, Gallery] = {}
        self._lock = threading.Lock()
        # Loaded now, so that a missing or unreadable key stops the start-up, not a request.
        self._key = load_encryption_key(encryption_key_file) if encrypt or encryption_key_file else None

    def names(self) -> list[str]:
        return self.database.gallery_names()

    def get(self, name: str) -> Gallery:
        check_gallery_name(name)
        with self._lock:
            if name not in self._open:
                schema = self.database.gallery_schema(name)
                if schema is None:
                    raise NotFoundError(f"no gallery named {name!r}")
                key = self._key if self._encrypted(schema) else None
                self._open[name] = Gallery.open(self.database.url, schema=schema, encryption_key=key)
            return self._open[name]

    def create(self, name: str) -> Gallery:
        check_gallery_name(name)
        with self._lock:
            if self.database.gallery_schema(name) is not None:
                raise ConflictError(f"gallery {name!r} already exists")
            schema = self.database.new_gallery_schema(name)
            gallery = Gallery.create(self.database.url, self.recognizer, schema=schema,
                                     encryption_key=self._key if self.encrypt else None)
            if not self.database.register_gallery(name, schema):  # another instance took the name meanwhile
                gallery.close()
                self.database.drop_schema(schema)
                raise ConflictError(f"gallery {name!r} already exists")
            self._open[name] = gallery
            return gallery

    def get_or_create(self, name: str) -> Gallery:
        return get_or_create(self, name)

    def _encrypted(self, schema: str) -> bool:
        row = self.database.run(lambda c: c.execute(f"SELECT 1 FROM {schema}.meta WHERE key = 'encryption'").fetchone())
        return row is not None

    def empty_subjects(self, name: str) -> "SharedEmptySubjects":
        return SharedEmptySubjects(self.database, name)

    def close(self) -> None:
        with self._lock:
            for gallery in self._open.values():
                gallery.close()
            self._open.clear()


class SharedEmptySubjects:
    """CompreFace subjects without an example yet, of one gallery, in the shared database."""

    def __init__(self, database: SharedDatabase, gallery: str) -> None:
        self.database = database
        self.gallery = gallery
        self._table = f"{database.schema}.empty_subjects"

    def names(self) -> set[str]:
        rows = self.database.run(lambda c: c.execute(f"SELECT subject FROM {self._table} WHERE gallery = %s",
                                                     (self.gallery,)).fetchall())
        return {r[0] for r in rows}

    def change(self, add: set[str] = frozenset(), remove: set[str] = frozenset(), clear: bool = False) -> None:
        def apply(conn: Any) -> None:
            with conn.transaction():
                if clear:
                    conn.execute(f"DELETE FROM {self._table} WHERE gallery = %s", (self.gallery,))
                conn.execute(f"DELETE FROM {self._table} WHERE gallery = %s AND subject = ANY(%s)",
                             (self.gallery, sorted(set(remove) - set(add))))
                for subject in sorted(add):
                    conn.execute(f"INSERT INTO {self._table} VALUES (%s, %s) ON CONFLICT DO NOTHING",
                                 (self.gallery, subject))

        self.database.run(apply)
