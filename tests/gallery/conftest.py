"""Gallery fixtures: a real PostgreSQL + pgvector server, galleries on both backends.

The PostgreSQL server comes from the ``pgserver`` package (in the ``test``
extra): a real PostgreSQL 16 with pgvector, started in a temporary folder for
the session. Where it cannot start, the postgres tests skip with the reason
(and fail in CI, which must be able to run them).
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from pgkit import new_pgdata, start_postgres

from facetrust.gallery import Gallery, IndexConfig


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    pgdata = new_pgdata()
    server = start_postgres(pgdata)
    try:
        yield server
    finally:
        server.cleanup()
        shutil.rmtree(pgdata, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_url(pg_server: Any) -> str:
    return str(pg_server.get_uri())


_schemas = iter(range(1_000_000))


@pytest.fixture(params=["sqlite", "postgres"])
def make_gallery(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Gallery]]:
    """``make_gallery(**create_options)`` → a new gallery on the parametrised backend; each call
    makes another one (its own file, or its own schema in the session's PostgreSQL)."""
    made: list[Gallery] = []

    def make(**options: object) -> Gallery:
        if "analyzer" not in options:  # the tests' synthetic vectors are 128-d: galleries of the dlib preset
            options.setdefault("recognizer", "dlib-resnet")
        if request.param == "sqlite":
            gallery = Gallery.create(tmp_path / f"g{len(made)}.gallery", **options)  # type: ignore[arg-type]
        else:
            url = request.getfixturevalue("pg_url")
            options.setdefault("index", IndexConfig(kind="flat"))  # pgvector HNSW inserts are slow; tested separately
            gallery = Gallery.create(url, schema=f"t{next(_schemas)}", **options)  # type: ignore[arg-type]
        made.append(gallery)
        return gallery

    def reopen(gallery: Gallery, **options: object) -> Gallery:
        """Another connection to the same gallery (as a second process or server would open it)."""
        if request.param == "sqlite":
            other = Gallery.open(gallery.backend.location, **options)  # type: ignore[arg-type]
        else:
            other = Gallery.open(request.getfixturevalue("pg_url"), schema=gallery.backend.schema,  # type: ignore
                                 **options)
        made.append(other)
        return other

    make.backend = request.param  # type: ignore[attr-defined]
    make.reopen = reopen  # type: ignore[attr-defined]
    yield make
    for gallery in made:
        gallery.close()
