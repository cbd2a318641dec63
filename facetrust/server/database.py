"""The state that several ``facetrust serve`` instances share in one PostgreSQL database.

With ``database_url`` set, every instance keeps nothing of its own that another instance
could need: API keys, rate-limit buckets, the registry of gallery names, CompreFace's
subjects without examples and the recognizer of the deployment live in the schema
``database_schema`` (default ``facetrust_server``); each gallery is a pgvector gallery in a
schema of its own (:mod:`facetrust.gallery.postgres`), searched in the database on every
request, so nothing can go stale between instances.

At start-up an instance waits for the database (exponential backoff for
``database_connect_timeout_s``), creates the tables if they are missing (under an advisory
lock, so instances starting together do not race) and refuses to run with another
recognizer than the one the deployment's galleries hold. At request time a lost
connection is opened again; if the database stays unreachable the request gets
:class:`~facetrust.errors.DatabaseUnavailableError` (503).
"""
from __future__ import annotations

import json
import re
import secrets
import threading
from typing import Any, Callable, TypeVar

from facetrust.errors import ConfigError, ModelMismatchError, StorageError
from facetrust.gallery.base import ModelIdentity
from facetrust.gallery.postgres import _SCHEMA_NAME, _redact, connect, lost_connection

T = TypeVar("T")
#: Gallery schemas: ``<database_schema>_g_<name, lower-cased>_<random hex>`` (SQL identifiers are at most 63 bytes).
_GALLERY_SCHEMA_CHARS = re.compile(r"[^a-z0-9_]")


def _tables(s: str) -> list[str]:
    return [
        f"CREATE SCHEMA IF NOT EXISTS {s}",
        f"CREATE TABLE IF NOT EXISTS {s}.meta (key text PRIMARY KEY, value text NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {s}.galleries (name text PRIMARY KEY, schema_name text NOT NULL UNIQUE, "
        "created_at timestamptz NOT NULL DEFAULT now())",
        f"CREATE TABLE IF NOT EXISTS {s}.api_keys (id text PRIMARY KEY, name text NOT NULL, galleries text[], "
        "created text NOT NULL, sha256 text NOT NULL, revoked text, rate_limit_per_minute double precision)",
        # Unlogged: not written to the WAL (faster); a database crash empties it, which only refills the buckets.
        f"CREATE UNLOGGED TABLE IF NOT EXISTS {s}.rate_buckets (client text PRIMARY KEY, "
        "tokens double precision NOT NULL, stamp double precision NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {s}.empty_subjects (gallery text NOT NULL, subject text NOT NULL, "
        "PRIMARY KEY (gallery, subject))",
        # One token bucket step, atomic under the row lock, on the database's clock (the instances' clocks
        # may differ). Returns 0 when a token was there (taken if p_take), else the seconds until one is.
        f"""CREATE OR REPLACE FUNCTION {s}.take_token(p_client text, p_capacity double precision,
            p_rate double precision, p_take boolean) RETURNS double precision LANGUAGE plpgsql AS $$
        DECLARE
            now_s double precision := extract(epoch FROM clock_timestamp());
            have double precision;
        BEGIN
            INSERT INTO {s}.rate_buckets VALUES (p_client, p_capacity, now_s) ON CONFLICT (client) DO NOTHING;
            SELECT least(p_capacity, tokens + greatest(0, now_s - stamp) * p_rate) INTO have
                FROM {s}.rate_buckets WHERE client = p_client FOR UPDATE;
            IF have >= 1 THEN
                UPDATE {s}.rate_buckets SET tokens = have - CASE WHEN p_take THEN 1 ELSE 0 END, stamp = now_s
                    WHERE client = p_client;
                RETURN 0;
            END IF;
            UPDATE {s}.rate_buckets SET tokens = have, stamp = now_s WHERE client = p_client;
            RETURN (1 - have) / p_rate;
        END $$""",
    ]


class SharedDatabase:
    """This instance's connection to the shared database (keys, rate limits, gallery registry).

    One connection, used by one thread at a time; every call is a short statement, so the
    lock is held for a round trip. Callers on the event loop must call it from a thread."""

    def __init__(self, url: str, schema: str = "facetrust_server", connect_timeout_s: float = 30.0) -> None:
        if not _SCHEMA_NAME.match(schema):
            raise ConfigError(f"database_schema must be a lower-case SQL identifier, got {schema!r}")
        self.url = url
        self.location = _redact(url)
        self.schema = schema
        self._lock = threading.Lock()
        self._conn = connect(url, retry_for_s=connect_timeout_s)
        self._create_tables()

    def _create_tables(self) -> None:
        import psycopg

        try:
            with self._conn.transaction():
                # Serialise the set-up of instances starting together: CREATE … IF NOT EXISTS is not race-free.
                self._conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"facetrust:{self.schema}",))
                for statement in _tables(self.schema):
                    self._conn.execute(statement)
        except psycopg.Error as exc:
            lost = lost_connection(self._conn, exc)
            self._conn.close()
            raise lost or StorageError(
                f"cannot set up the shared tables in {self.location} (schema {self.schema}): "
                f"{' '.join(str(exc).split())}") from None

    def run(self, work: Callable[[Any], T]) -> T:
        """``work(connection)``; a connection lost since the last call is opened again once
        (every caller's work is one statement or one transaction, so running it again is safe),
        a database that stays unreachable raises :class:`DatabaseUnavailableError` and any other
        database failure :class:`StorageError`."""
        import psycopg

        with self._lock:
            if not (self._conn.closed or self._conn.broken):
                try:
                    return work(self._conn)
                except psycopg.Error as exc:
                    if lost_connection(self._conn, exc) is None:
                        raise StorageError(f"database error: {' '.join(str(exc).split())}") from None
            self._conn.close()
            self._conn = connect(self.url)
            try:
                return work(self._conn)
            except psycopg.Error as exc:
                raise lost_connection(self._conn, exc) or StorageError(
                    f"database error: {' '.join(str(exc).split())}") from None

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- the deployment's recognizer ----------------------------------------------
    def check_model(self, model: ModelIdentity) -> None:
        """Record ``model`` as the deployment's recognizer if none is recorded yet, else refuse
        another one (:class:`ModelMismatchError`, naming the preset that matches)."""
        s = self.schema

        def record(conn: Any) -> ModelIdentity:
            conn.execute(f"INSERT INTO {s}.meta VALUES ('model', %s) ON CONFLICT (key) DO NOTHING",
                         (json.dumps(model.to_dict()),))
            (value,) = conn.execute(f"SELECT value FROM {s}.meta WHERE key = 'model'").fetchone()
            return ModelIdentity.from_dict(json.loads(value))

        stored = self.run(record)
        if stored != model:
            from facetrust.presets import how_to_use

            raise ModelMismatchError(
                f"the shared galleries in {self.location} (schema {s}) hold {stored}, but this instance runs "
                f"{model}; start every instance with {how_to_use(stored.name)}")

    # -- gallery registry --------------------------------------------------------
    def gallery_names(self) -> list[str]:
        return [r[0] for r in self.run(lambda c: c.execute(
            f"SELECT name FROM {self.schema}.galleries ORDER BY name").fetchall())]

    def gallery_schema(self, name: str) -> str | None:
        row = self.run(lambda c: c.execute(f"SELECT schema_name FROM {self.schema}.galleries WHERE name = %s",
                                           (name,)).fetchone())
        return None if row is None else str(row[0])

    def new_gallery_schema(self, name: str) -> str:
        """A fresh schema name for gallery ``name`` (readable, and unique by its random part)."""
        readable = _GALLERY_SCHEMA_CHARS.sub("_", name.lower())[:24]
        return f"{self.schema[:24]}_g_{readable}_{secrets.token_hex(4)}"

    def register_gallery(self, name: str, schema: str) -> bool:
        """Map ``name`` to ``schema``; False when another instance registered the name first."""
        row = self.run(lambda c: c.execute(
            f"INSERT INTO {self.schema}.galleries (name, schema_name) VALUES (%s, %s) "
            "ON CONFLICT (name) DO NOTHING RETURNING name", (name, schema)).fetchone())
        return row is not None

    def drop_schema(self, schema: str) -> None:
        self.run(lambda c: c.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
