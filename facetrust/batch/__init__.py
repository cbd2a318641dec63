"""Batch processing beyond one machine: many images analysed on a Ray cluster into partitioned,
resumable Parquet (:func:`run_batch`), and bulk enrolment of that output into a gallery
(:func:`import_parquet`). Ray is imported only when a job runs (the ``batch`` extra)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from facetrust.batch.gallery_import import ImportReport, import_parquet
    from facetrust.batch.runner import BatchReport, run_batch

_LAZY = {"run_batch": "facetrust.batch.runner", "BatchReport": "facetrust.batch.runner",
         "import_parquet": "facetrust.batch.gallery_import", "ImportReport": "facetrust.batch.gallery_import"}

__all__ = ["BatchReport", "ImportReport", "import_parquet", "run_batch"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
