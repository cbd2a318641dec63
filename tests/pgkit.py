"""A real PostgreSQL 16 with pgvector for tests (the ``pgserver`` package, in the ``test`` extra).

Where it cannot start, the caller's test skips with the reason, and fails in CI, which must be
able to run it. The data folder must not be under pytest's tmp folder: as root, pgserver runs
PostgreSQL as its own user, which cannot enter pytest's 0700 /tmp/pytest-of-root.
"""
from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import pytest


def new_pgdata(prefix: str = "facetrust-pgdata-") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def start_postgres(pgdata: Path) -> Any:
    """The pgserver server on ``pgdata`` (started, or found running), with pgvector enabled."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        try:
            import pgserver
        except ImportError as exc:
            unavailable(f"pgserver is not installed ({exc}); pip install -e '.[test]'")
        try:
            server = pgserver.get_server(pgdata, cleanup_mode="stop")
            server.psql("CREATE EXTENSION IF NOT EXISTS vector;")
        except Exception as exc:  # noqa: BLE001 - any failure to start means: no server here
            unavailable(f"pgserver could not start PostgreSQL with pgvector: {exc}")
    return server


def unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)
