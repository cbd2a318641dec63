"""1:N identification: a durable, erasable gallery of enrolled identities.

``BACKENDS`` holds the storage implementations: ``sqlite`` (embedded default,
SQLite + FAISS, nothing to install or start) and ``postgres`` (PostgreSQL with
pgvector, for several application servers sharing one gallery; needs the
``postgres`` extra). Backends import their libraries only when used.
"""
from facetrust.gallery.base import (
    Candidate, DamagedTemplateWarning, EnrollRecord, ErasureWarning, Fusion, GalleryBackend, GalleryIndexWarning, Identity, IndexConfig,
    IntegrityReport, LowQualityWarning, Match, ModelIdentity, NewTemplate, QualityPolicy, Removal, SearchResult, Template,
    model_identity,
)
from facetrust.gallery.gallery import FolderReport, Gallery, backend_for, default_quality_method
from facetrust.registry import Registry

BACKENDS: Registry[GalleryBackend] = Registry("gallery backend")
BACKENDS.register("sqlite", "facetrust.gallery.sqlite:SQLiteGallery", "SQLite (WAL) + FAISS index files (embedded, default)")
BACKENDS.register("postgres", "facetrust.gallery.postgres:PostgresGallery", "PostgreSQL + pgvector (shared by many servers)")

__all__ = [
    "BACKENDS", "Candidate", "DamagedTemplateWarning", "EnrollRecord", "ErasureWarning", "FolderReport", "Fusion", "Gallery", "GalleryBackend",
    "GalleryIndexWarning", "Identity", "IndexConfig", "IntegrityReport", "LowQualityWarning", "Match", "ModelIdentity",
    "NewTemplate", "QualityPolicy", "Removal", "SearchResult", "Template", "backend_for", "default_quality_method",
    "model_identity",
]
