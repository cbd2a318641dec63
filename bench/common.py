"""Paths shared by the benchmark scripts: ../shared (override with FACETRUST_SHARED)."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FACETRUST_SHARED", ROOT.parent / "shared"))
LFW_ROOT = SHARED / "data" / "lfw"
LFW_PAIRS = SHARED / "data" / "lfw_pairs.txt"
RESULTS = ROOT / "bench" / "results"

os.environ.setdefault("FACETRUST_MODEL_DIR", str(SHARED / "models"))


@contextmanager
def scratch_postgres(prefix: str) -> Iterator[str]:
    """A throwaway PostgreSQL with pgvector (pgserver) for a bench run: its URL; removed afterwards."""
    import shutil
    import tempfile
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

        folder = Path(tempfile.mkdtemp(prefix=prefix))
        postgres = pgserver.get_server(folder, cleanup_mode="stop")
    try:
        postgres.psql("CREATE EXTENSION IF NOT EXISTS vector;")
        yield str(postgres.get_uri())
    finally:
        postgres.cleanup()
        shutil.rmtree(folder, ignore_errors=True)
