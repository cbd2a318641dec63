"""1:N identification: a durable, erasable gallery of enrolled identities.

``BACKENDS`` holds the storage implementations: ``sqlite`` (embedded default,
SQLite + FAISS, nothing to install or start) and ``postgres`` (PostgreSQL with
pgvector, for several application servers sharing one gallery; needs the
``postgres`` extra). Backends import their libraries only when used.
"""
from facetrust.gallery.base import (
    Candidate, EnrollRecord, ErasureWarning, GalleryBackend, GalleryIndexWarning, Identity, IndexConfig,
    IntegrityReport, Match, ModelIdentity, NewTemplate, SearchResult, Template, model_identity,
)
from facetrust.gallery.gallery import FolderReport, Gallery, backend_for
from facetrust.registry import Registry

BACKENDS: Registry[GalleryBackend] = Registry("gallery backend")
BACKENDS.register("sqlite", "facetrust.gallery.sqlite:SQLiteGallery", "SQLite (WAL) + FAISS index files (embedded, default)")
BACKENDS.register("postgres", "facetrust.gallery.postgres:PostgresGallery", "PostgreSQL + pgvector (shared by many servers)")

__all__ = [
    "BACKENDS", "Candidate", "EnrollRecord", "ErasureWarning", "FolderReport", "Gallery", "GalleryBackend",
    "GalleryIndexWarning", "Identity", "IndexConfig", "IntegrityReport", "Match", "ModelIdentity", "NewTemplate",
    "SearchResult", "Template", "backend_for", "model_identity",
]
