"""PostgreSQL + pgvector backend, for several application servers sharing one gallery.

Location: a PostgreSQL URL (``postgresql://user:pass@host/db``); the gallery
lives in one schema (option ``schema``, default ``facetrust``), so one database
can hold several galleries. The ``vector`` extension must be installable by
the user (or already installed). Templates are indexed with pgvector's HNSW
index on inner product (``index=IndexConfig(kind="flat")`` for exact scans);
``ef_search`` sets the candidate list of a query.

Erasure (option ``erase``): ``"full"`` (default) deletes the rows and runs
``VACUUM FULL`` on the gallery's tables, which rewrites their files without the
removed rows (a plain ``VACUUM`` only marks the space reusable: the bytes stay in
the table files until overwritten). ``VACUUM FULL`` locks the tables while it
runs, which grows with the gallery; ``"vacuum"`` trades that for the weaker
guarantee. Either way PostgreSQL keeps old row versions in its write-ahead log
segments (and in backups) until they are recycled, which the operator controls.

A lost connection (the server restarted, the network dropped) is reported as
:class:`~facetrust.errors.DatabaseUnavailableError`; the next call connects again, and a
transaction that finds its connection dead before it started reconnects at once.

Encryption at rest (``encryption_key``): the template vectors are stored AES-256-GCM
encrypted (``bytea``), each bound to the gallery, its template id and identity id, and
searched in an exact index in memory built from the decrypted vectors, not by pgvector
(:mod:`facetrust.gallery.postgres_sealed`).
"""
from __future__ import annotations

import json
import re
import threading
import time
import uuid
import warnings
from contextlib import ExitStack, contextmanager
from typing import Any, Iterator, Sequence

import numpy as np

from facetrust.errors import (
    ConfigError, CorruptDataError, DatabaseUnavailableError, DuplicateIdentityError, GalleryError,
    IdentityNotFoundError,
)
from facetrust.gallery.base import (
    ENCRYPTED_FORMAT_VERSION, FORMAT, FORMAT_VERSION, Candidate, ErasureWarning, Identity, IndexConfig, IntegrityReport,
    ModelIdentity, NewTemplate, OnDuplicate, Template, distinct_identities,
)
from facetrust.gallery.postgres_sealed import MemoryIndex, SealedRows, sealed_templates
from facetrust.privacy.encryption import KeySource, TemplateCipher, open_cipher
from facetrust.privacy.keys import ProtectionKey

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
#: How long erasure waits for the table lock held by other connections' transactions.
ERASURE_WAIT_S = 2.0
#: Seconds one connection attempt may take (an unreachable host must not hang a request).
CONNECT_TIMEOUT_S = 5
#: A connection whose packets stop arriving (a partition: dropped, not refused) is declared dead
#: by the kernel instead of after TCP's ~15-minute retransmission limit: sent data unacknowledged
#: for 10 s, or an idle wait whose keepalive probes go unanswered for 10 + 3 x 5 s. A long query
#: is not cut short: the database host's kernel acknowledges and answers probes while it runs.
#: libpq ignores these on Unix sockets; the same keys given in the URL win.
TCP_LIVENESS = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3,
                "tcp_user_timeout": 10_000}
#: SQLSTATE classes a retry cannot fix: bad credentials (28…) and a database that does not exist.
_PERMANENT_SQLSTATES = ("28", "3D000")
_ROTATE_CHUNK = 5_000  # templates re-encrypted per batch in a key rotation


def _vector_text(vector: np.ndarray) -> str:
    # 9 significant digits round-trip float32 exactly.
    return "[" + ",".join(f"{v:.9g}" for v in np.asarray(vector, dtype=np.float32).tolist()) + "]"


def _parse_vector(text: str) -> np.ndarray:
    return np.array(text.strip("[]").split(","), dtype=np.float32)


def _redact(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def connect(url: str, retry_for_s: float = 0.0) -> Any:
    """An autocommit connection to ``url``. While the server is unreachable (refused, timed out,
    starting up) it retries with exponential backoff (0.1 s doubling to 2 s) for ``retry_for_s``
    seconds, then raises :class:`DatabaseUnavailableError`; bad credentials fail at once."""
    try:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:
        raise ConfigError("the postgres backend needs psycopg: pip install 'facetrust[postgres]'") from None
    try:
        given = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise GalleryError(f"cannot connect to {_redact(url)}: {' '.join(str(exc).split())}") from None
    liveness = {key: value for key, value in TCP_LIVENESS.items() if key not in given}
    deadline = time.monotonic() + retry_for_s
    delay, attempts = 0.1, 0
    while True:
        attempts += 1
        try:
            return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, **liveness)
        except psycopg.OperationalError as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            if (exc.sqlstate or "").startswith(_PERMANENT_SQLSTATES):
                raise GalleryError(f"cannot connect to {_redact(url)}: {reason}") from None
            left = deadline - time.monotonic()
            if left <= 0:
                tried = f" (tried {attempts} times in {retry_for_s:g} s)" if retry_for_s > 0 else ""
                raise DatabaseUnavailableError(f"cannot connect to {_redact(url)}{tried}: {reason}") from None
            time.sleep(min(delay, left))
            delay = min(2.0, delay * 2)
        except psycopg.Error as exc:
            raise GalleryError(f"cannot connect to {_redact(url)}: {' '.join(str(exc).split())}") from None


def lost_connection(conn: Any, exc: Exception) -> DatabaseUnavailableError | None:
    """The error to report when ``exc`` means that ``conn`` is dead (else None)."""
    import psycopg

    if isinstance(exc, psycopg.OperationalError) and (conn.closed or conn.broken):
        reason = " ".join(str(exc).split()) or "connection lost"
        return DatabaseUnavailableError(f"the database connection was lost ({reason}); retry shortly")
    return None


class PostgresGallery:
    def __init__(self, conn: Any, url: str, schema: str, model: ModelIdentity, readonly: bool,
                 index: IndexConfig, ef_search: int, erase: str, cipher: TemplateCipher | None = None,
                 gallery_uuid: str | None = None) -> None:
        if erase not in ("full", "vacuum"):
            raise ConfigError(f"erase must be 'full' or 'vacuum', got {erase!r}")
        self._conn = conn
        self._url = url
        self.location = _redact(url)
        self.schema = schema
        self.model = model
        self.readonly = readonly
        self.index_config = index
        self.ef_search = ef_search
        self.erase = erase
        self._lock = threading.RLock()
        self._face_column = "face"  # "NULL" for a read-only gallery made before template records had faces
        self._vacuum_pending = False  # a removal's VACUUM waits for other transactions (see _vacuum)
        self.cipher = cipher
        # Encrypted: rows sealed and opened here, searched in memory (pgvector cannot search ciphertext).
        self._sealed = None if cipher is None else SealedRows(cipher, str(gallery_uuid), model.dim, self.location)
        self._memory = None if cipher is None else MemoryIndex(model.dim)

    # -- opening -----------------------------------------------------------
    @staticmethod
    def _connect(url: str, schema: str) -> Any:
        if not _SCHEMA_NAME.match(schema):
            raise ConfigError(f"schema must be a lower-case SQL identifier, got {schema!r}")
        return connect(url)

    @classmethod
    def create(cls, location: str, model: ModelIdentity, index: IndexConfig | None = None, schema: str = "facetrust",
               ef_search: int = 100, erase: str = "full",
               encryption_key: ProtectionKey | None = None) -> "PostgresGallery":
        import psycopg

        index = index or IndexConfig()
        cipher = None if encryption_key is None else TemplateCipher(encryption_key)
        column = f"vector({model.dim})" if cipher is None else "bytea"
        conn = cls._connect(str(location), schema)
        s = schema
        try:
            with conn.transaction():
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
                if conn.execute("SELECT to_regclass(%s)", (f"{s}.meta",)).fetchone()[0] is not None:
                    raise GalleryError(f"a gallery already exists in schema {s!r} of {_redact(str(location))}")
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {s}")
                conn.execute(f"CREATE TABLE {s}.meta (key text PRIMARY KEY, value text NOT NULL)")
                conn.execute(f"CREATE TABLE {s}.identities (pk bigserial PRIMARY KEY, id text NOT NULL UNIQUE, "
                             "name text, metadata jsonb NOT NULL, created_at double precision NOT NULL, "
                             "updated_at double precision NOT NULL)")
                conn.execute(f"CREATE TABLE {s}.templates (id bigserial PRIMARY KEY, identity_pk bigint NOT NULL "
                             f"REFERENCES {s}.identities(pk) ON DELETE CASCADE, vector {column} NOT NULL, "
                             "quality real, source text, created_at double precision NOT NULL, face jsonb)")
                conn.execute(f"CREATE INDEX ON {s}.templates (identity_pk)")
                if index.kind != "flat" and cipher is None:
                    conn.execute(f"CREATE INDEX templates_hnsw ON {s}.templates USING hnsw (vector vector_ip_ops)")
                meta = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "created_at": repr(time.time()),
                        "model": json.dumps(model.to_dict()), "index": json.dumps(index.to_dict())}
                gallery_uuid = str(uuid.uuid4())
                if cipher is not None:
                    meta.update(format_version=str(ENCRYPTED_FORMAT_VERSION), uuid=gallery_uuid,
                                encryption=json.dumps(cipher.spec()))
                    conn.execute(f"CREATE TABLE {s}.state (generation bigint NOT NULL)")
                    conn.execute(f"INSERT INTO {s}.state VALUES (0)")
                with conn.cursor() as cur:
                    cur.executemany(f"INSERT INTO {s}.meta VALUES (%s, %s)", list(meta.items()))
        except psycopg.Error as exc:
            conn.close()
            raise GalleryError(f"cannot create a gallery in {_redact(str(location))}: {str(exc).strip()}") from None
        except BaseException:
            conn.close()
            raise
        return cls(conn, str(location), schema, model, False, index, ef_search, erase, cipher, gallery_uuid)

    @classmethod
    def open(cls, location: str, readonly: bool = False, index: IndexConfig | None = None, schema: str = "facetrust",
             ef_search: int = 100, erase: str = "full", encryption_key: KeySource = None) -> "PostgresGallery":
        import psycopg

        conn = cls._connect(str(location), schema)
        try:
            if conn.execute("SELECT to_regclass(%s)", (f"{schema}.meta",)).fetchone()[0] is None:
                raise GalleryError(f"no gallery in schema {schema!r} of {_redact(str(location))}")
            meta = dict(conn.execute(f"SELECT key, value FROM {schema}.meta").fetchall())
            if meta.get("format") != FORMAT:
                raise GalleryError(f"schema {schema!r} does not hold a facetrust gallery")
            if int(meta.get("format_version", FORMAT_VERSION)) > ENCRYPTED_FORMAT_VERSION:
                raise GalleryError(f"schema {schema!r} holds a gallery of a newer format "
                                   f"(version {meta['format_version']}): upgrade facetrust")
            cipher = open_cipher(json.loads(meta["encryption"]) if "encryption" in meta else None,
                                 encryption_key, f"gallery {_redact(str(location))} (schema {schema})")
            face_column = conn.execute("SELECT count(*) FROM information_schema.columns WHERE table_schema = %s "
                                       "AND table_name = 'templates' AND column_name = 'face'", (schema,)).fetchone()[0]
            if not face_column and not readonly:  # a gallery from before template records had faces
                conn.execute(f"ALTER TABLE {schema}.templates ADD COLUMN face jsonb")
                face_column = 1
            if readonly:
                conn.execute("SET default_transaction_read_only = on")
        except psycopg.Error as exc:
            conn.close()
            raise GalleryError(f"cannot open the gallery: {str(exc).strip()}") from None
        except BaseException:
            conn.close()
            raise
        model = ModelIdentity.from_dict(json.loads(meta["model"]))
        stored = IndexConfig.from_dict(json.loads(meta.get("index", "{}")))
        gallery = cls(conn, str(location), schema, model, readonly, index or stored, ef_search, erase, cipher,
                      meta.get("uuid"))
        gallery._face_column = "face" if face_column else "NULL"
        return gallery

    @contextmanager
    def _tx(self, write: bool) -> Iterator[Any]:
        import psycopg

        if write and self.readonly:
            raise GalleryError("the gallery is open read-only")
        with self._lock:
            try:
                with ExitStack() as stack:
                    conn = self._begin(stack)
                    if write and self.cipher is not None:  # tells other processes' memory indexes to refresh
                        conn.execute(f"UPDATE {self.schema}.state SET generation = generation + 1")
                    yield conn
            except psycopg.errors.UniqueViolation as exc:
                raise DuplicateIdentityError(f"already enrolled ({str(exc).strip().splitlines()[-1]})") from None
            except psycopg.Error as exc:
                lost = lost_connection(self._conn, exc)
                if lost is not None:
                    raise lost from None
                raise GalleryError(f"database error: {str(exc).strip()}") from None

    def _begin(self, stack: ExitStack) -> Any:
        """The connection inside a new transaction. A connection found dead by BEGIN (the server
        restarted since the last call) is replaced once, before any work was done on it."""
        import psycopg

        if not (self._conn.closed or self._conn.broken):
            try:
                stack.enter_context(self._conn.transaction())
                return self._conn
            except psycopg.OperationalError as exc:
                if lost_connection(self._conn, exc) is None:
                    raise
        self._reconnect()
        stack.enter_context(self._conn.transaction())
        return self._conn

    def _reconnect(self) -> None:
        self._conn.close()
        self._conn = connect(self._url)
        if self.readonly:
            self._conn.execute("SET default_transaction_read_only = on")

    # -- writes --------------------------------------------------------------
    def enroll(self, records: Sequence[tuple[str, str | None, str, Sequence[NewTemplate]]],
               on_duplicate: OnDuplicate = "error") -> list[str]:
        s = self.schema
        ids = [r[0] for r in records]
        if len(set(ids)) != len(ids):
            raise DuplicateIdentityError("an identity id is given twice")
        with self._tx(write=True) as c:
            existing = {r[0] for r in c.execute(f"SELECT id FROM {s}.identities WHERE id = ANY(%s)", (ids,))}
            if existing and on_duplicate == "error":
                raise DuplicateIdentityError(f"already enrolled: {', '.join(sorted(existing)[:5])}")
            now = time.time()
            inserted = []
            with c.cursor() as cur:
                for identity_id, name, metadata_json, templates in records:
                    if identity_id in existing:
                        continue
                    pk = cur.execute(f"INSERT INTO {s}.identities (id, name, metadata, created_at, updated_at) "
                                     "VALUES (%s, %s, %s::jsonb, %s, %s) RETURNING pk",
                                     (identity_id, name, metadata_json, now, now)).fetchone()[0]
                    if self._sealed is not None:
                        self._insert_sealed(c, pk, identity_id, templates, now)
                    else:
                        cur.executemany(f"INSERT INTO {s}.templates (identity_pk, vector, quality, source, created_at, "
                                        "face) VALUES (%s, %s::vector, %s, %s, %s, %s::jsonb)",
                                        [(pk, _vector_text(t.vector), t.quality, t.source, now, t.face_json())
                                         for t in templates])
                    inserted.append(identity_id)
        return inserted

    def add_templates(self, identity_id: str, templates: Sequence[NewTemplate]) -> list[int]:
        s = self.schema
        with self._tx(write=True) as c:
            pk = self._pk(c, identity_id)
            now = time.time()
            if self._sealed is not None:
                new_ids = self._insert_sealed(c, pk, identity_id, templates, now)
            else:
                new_ids = [c.execute(f"INSERT INTO {s}.templates (identity_pk, vector, quality, source, created_at, "
                                     "face) VALUES (%s, %s::vector, %s, %s, %s, %s::jsonb) RETURNING id",
                                     (pk, _vector_text(t.vector), t.quality, t.source, now, t.face_json())).fetchone()[0]
                           for t in templates]
            c.execute(f"UPDATE {s}.identities SET updated_at = %s WHERE pk = %s", (now, pk))
        return [int(i) for i in new_ids]

    def _insert_sealed(self, c: Any, pk: int, identity_id: str, templates: Sequence[NewTemplate],
                       now: float) -> list[int]:
        """Insert encrypted templates: ids are drawn first, so each vector is sealed once, bound to its final id."""
        s = self.schema
        ids = [int(r[0]) for r in c.execute(f"SELECT nextval(pg_get_serial_sequence('{s}.templates', 'id')) "
                                            "FROM generate_series(1, %s)", (len(templates),))]
        with c.cursor() as cur:
            cur.executemany(f"INSERT INTO {s}.templates (id, identity_pk, vector, quality, source, created_at, face) "
                            "VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb)",
                            [(tid, pk, self._sealed.seal(t.vector, tid, identity_id), t.quality,  # type: ignore[union-attr]
                              t.source, now, t.face_json()) for tid, t in zip(ids, templates)])
        return ids

    def update(self, identity_id: str, name: str | None, metadata_json: str | None) -> Identity:
        s = self.schema
        with self._tx(write=True) as c:
            pk = self._pk(c, identity_id)
            c.execute(f"UPDATE {s}.identities SET name = COALESCE(%s, name), "
                      "metadata = COALESCE(%s::jsonb, metadata), updated_at = %s WHERE pk = %s",
                      (name, metadata_json, time.time(), pk))
        return self.get(identity_id)

    def remove(self, identity_ids: Sequence[str]) -> int:
        s = self.schema
        ids = list(dict.fromkeys(identity_ids))
        with self._tx(write=True) as c:
            found = {r[0] for r in c.execute(f"SELECT id FROM {s}.identities WHERE id = ANY(%s)", (ids,))}
            missing = [i for i in ids if i not in found]
            if missing:
                raise IdentityNotFoundError(f"not enrolled: {', '.join(missing[:5])}")
            (templates,) = c.execute(f"SELECT count(*) FROM {s}.templates t JOIN {s}.identities i "
                                     "ON i.pk = t.identity_pk WHERE i.id = ANY(%s)", (ids,)).fetchone()
            c.execute(f"DELETE FROM {s}.identities WHERE id = ANY(%s)", (ids,))
        self._vacuum()
        return int(templates)

    def remove_template(self, template_id: int) -> None:
        s = self.schema
        with self._tx(write=True) as c:
            row = c.execute(f"SELECT identity_pk FROM {s}.templates WHERE id = %s", (template_id,)).fetchone()
            if row is None:
                raise IdentityNotFoundError(f"no template with id {template_id}")
            (count,) = c.execute(f"SELECT count(*) FROM {s}.templates WHERE identity_pk = %s", row).fetchone()
            if count == 1:
                raise GalleryError(f"template {template_id} is its identity's only one; remove the identity instead")
            c.execute(f"DELETE FROM {s}.templates WHERE id = %s", (template_id,))
            c.execute(f"UPDATE {s}.identities SET updated_at = %s WHERE pk = %s", (time.time(), row[0]))
        self._vacuum()

    def _vacuum(self) -> None:
        """Rewrite the tables without the deleted rows, waiting at most :data:`ERASURE_WAIT_S` for
        the table lock that other connections' open transactions hold: then warn and retry at the
        next removal or at close."""
        import psycopg

        # VACUUM cannot run inside a transaction; the connection is in autocommit mode.
        command = "VACUUM FULL" if self.erase == "full" else "VACUUM"
        with self._lock:
            try:
                self._conn.execute(f"SET lock_timeout = '{int(ERASURE_WAIT_S * 1000)}ms'")
                self._conn.execute(f"{command} {self.schema}.templates")
                self._conn.execute(f"{command} {self.schema}.identities")
                self._vacuum_pending = False
                return
            except psycopg.errors.LockNotAvailable:
                self._vacuum_pending = True
                reason = "another connection's open transaction holds the gallery's tables"
            except psycopg.OperationalError as exc:
                if lost_connection(self._conn, exc) is None:
                    raise
                self._vacuum_pending = True
                reason = "the database connection was lost"
            finally:
                if not (self._conn.closed or self._conn.broken):
                    self._conn.execute("SET lock_timeout = 0")
        warnings.warn(ErasureWarning(
            f"the removal committed, but {reason}, so {command} could not rewrite the tables yet: the removed "
            "rows stay in the table files until it runs (retried at the next removal and at close)"), stacklevel=4)

    # -- reads ---------------------------------------------------------------
    def _pk(self, c: Any, identity_id: str) -> int:
        row = c.execute(f"SELECT pk FROM {self.schema}.identities WHERE id = %s", (identity_id,)).fetchone()
        if row is None:
            raise IdentityNotFoundError(f"not enrolled: {identity_id}")
        return int(row[0])

    def existing(self, identity_ids: Sequence[str]) -> set[str]:
        with self._tx(write=False) as c:
            return {r[0] for r in c.execute(f"SELECT id FROM {self.schema}.identities WHERE id = ANY(%s)",
                                            (list(identity_ids),))}

    def counts(self) -> tuple[int, int]:
        with self._tx(write=False) as c:
            return (int(c.execute(f"SELECT count(*) FROM {self.schema}.identities").fetchone()[0]),
                    int(c.execute(f"SELECT count(*) FROM {self.schema}.templates").fetchone()[0]))

    def get(self, identity_id: str) -> Identity:
        with self._tx(write=False) as c:
            rows = c.execute(f"SELECT pk, id, name, metadata, created_at, updated_at FROM {self.schema}.identities "
                             "WHERE id = %s", (identity_id,)).fetchall()
            if not rows:
                raise IdentityNotFoundError(f"not enrolled: {identity_id}")
            return self._identities(c, rows)[0]

    def list(self, offset: int = 0, limit: int | None = None) -> list[Identity]:
        with self._tx(write=False) as c:
            rows = c.execute(f"SELECT pk, id, name, metadata, created_at, updated_at FROM {self.schema}.identities "
                             "ORDER BY pk OFFSET %s LIMIT %s", (offset, limit)).fetchall()
            return self._identities(c, rows)

    def _identities(self, c: Any, rows: list[tuple[Any, ...]]) -> list[Identity]:
        templates: dict[int, list[Template]] = {}
        for pk, tid, quality, source, created, face in c.execute(
                f"SELECT identity_pk, id, quality, source, created_at, {self._face_column} FROM {self.schema}.templates "
                "WHERE identity_pk = ANY(%s) ORDER BY id", ([r[0] for r in rows],)):
            templates.setdefault(pk, []).append(Template.from_row(tid, quality, source, created, face))
        return [Identity(ident, name, meta, created, updated, tuple(templates.get(pk, ())))
                for pk, ident, name, meta, created, updated in rows]

    def templates_of(self, identity_ids: Sequence[str]) -> dict[str, tuple[list[float | None], np.ndarray]]:
        qualities: dict[str, list[float | None]] = {}
        vectors: dict[str, list[np.ndarray]] = {}
        with self._tx(write=False) as c:
            for tid, ident, quality, stored in c.execute(
                    f"SELECT t.id, i.id, t.quality, {self._vector_column} FROM {self.schema}.templates t "
                    f"JOIN {self.schema}.identities i ON i.pk = t.identity_pk WHERE i.id = ANY(%s) ORDER BY t.id",
                    (list(identity_ids),)):
                qualities.setdefault(ident, []).append(quality)
                vectors.setdefault(ident, []).append(self._vector(stored, tid, ident))
        return {i: (qualities[i], np.stack(vectors[i])) for i in qualities}

    def iter_export(self, damaged: list[int] | None = None) -> Iterator[tuple[Identity, np.ndarray]]:
        """``damaged`` stays empty: pgvector's typed column cannot hold a damaged vector."""
        last = 0
        while True:
            with self._tx(write=False) as c:
                rows = c.execute(f"SELECT pk, id, name, metadata, created_at, updated_at FROM "
                                 f"{self.schema}.identities WHERE pk > %s ORDER BY pk LIMIT 1000", (last,)).fetchall()
                if not rows:
                    return
                identities = self._identities(c, rows)
                vectors: dict[int, list[np.ndarray]] = {}
                owners = {r[0]: r[1] for r in rows}
                for pk, tid, stored in c.execute(f"SELECT identity_pk, id, {self._vector_column} FROM "
                                                 f"{self.schema}.templates t WHERE identity_pk = ANY(%s) ORDER BY id",
                                                 ([r[0] for r in rows],)):
                    vectors.setdefault(pk, []).append(self._vector(stored, tid, owners[pk]))
            last = rows[-1][0]
            for row, identity in zip(rows, identities):
                found = vectors.get(row[0], [])
                yield identity, np.stack(found) if found else np.zeros((0, self.model.dim), dtype=np.float32)

    @property
    def _vector_column(self) -> str:
        return "t.vector::text" if self._sealed is None else "t.vector"

    def _vector(self, stored: Any, template_id: int, identity_id: str) -> np.ndarray:
        """A row's vector: pgvector's text, or the ciphertext authenticated and decrypted."""
        if self._sealed is None:
            return _parse_vector(stored)
        return self._sealed.open(stored, template_id, identity_id)

    def search(self, vectors: np.ndarray, k: int) -> list[list[Candidate]]:
        s = self.schema
        if self._memory is not None:
            with self._tx(write=False) as c:
                self._memory.refresh(c, s, self._sealed)  # type: ignore[arg-type]
                return self._memory.search(c, s, vectors, k)
        results = []
        with self._tx(write=False) as c:
            want = max(32, 4 * k)
            c.execute(f"SET LOCAL hnsw.ef_search = {max(self.ef_search, want)}")
            for vector in vectors:
                text = _vector_text(vector)
                while True:
                    rows = c.execute(
                        f"SELECT n.id, i.id, i.name, n.score FROM (SELECT id, identity_pk, -(vector <#> %s::vector) "
                        f"AS score FROM {s}.templates ORDER BY vector <#> %s::vector LIMIT %s) n "
                        f"JOIN {s}.identities i ON i.pk = n.identity_pk ORDER BY n.score DESC",
                        (text, text, want)).fetchall()
                    found = [Candidate(int(t), ident, name, float(score)) for t, ident, name, score in rows]
                    # Several templates of one identity can fill the candidate list: ask for more.
                    if distinct_identities(found) >= k or len(rows) < want:
                        break
                    want *= 4
                    c.execute(f"SET LOCAL hnsw.ef_search = {min(1000, max(self.ef_search, want))}")
                results.append(found)
        return results

    # -- maintenance -----------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        identities, templates = self.counts()
        with self._tx(write=False) as c:
            size = c.execute("SELECT pg_total_relation_size(%s) + pg_total_relation_size(%s)",
                             (f"{self.schema}.templates", f"{self.schema}.identities")).fetchone()[0]
        return {"backend": "postgres", "location": self.location, "schema": self.schema,
                "model": self.model.to_dict(), "identities": identities, "templates": templates,
                "files_bytes": {"tables": int(size)},
                "encryption": None if self.cipher is None else self.cipher.spec(),
                "index": ({"kind": "memory", "exact": True, "note": "decrypted in memory: pgvector cannot search "
                           "ciphertext"} if self.cipher is not None else
                          {"kind": "flat" if self.index_config.kind == "flat" else "hnsw", "ef_search": self.ef_search})}

    def check(self) -> IntegrityReport:
        s = self.schema
        problems = []
        with self._tx(write=False) as c:
            if self._sealed is None:
                (bad,) = c.execute(f"SELECT count(*) FROM {s}.templates WHERE vector_dims(vector) != %s",
                                   (self.model.dim,)).fetchone()
                if bad:
                    problems.append(f"{bad} template(s) have a vector of the wrong size")
            else:
                problems += self._unreadable(c)
            (empty,) = c.execute(f"SELECT count(*) FROM {s}.identities i WHERE NOT EXISTS "
                                 f"(SELECT 1 FROM {s}.templates t WHERE t.identity_pk = i.pk)").fetchone()
            if empty:
                problems.append(f"{empty} identit{'y has' if empty == 1 else 'ies have'} no template")
            invalid = c.execute("SELECT count(*) FROM pg_index x JOIN pg_class r ON r.oid = x.indrelid "
                                "JOIN pg_namespace n ON n.oid = r.relnamespace WHERE n.nspname = %s "
                                "AND NOT x.indisvalid", (s,)).fetchone()[0]
            if invalid:
                problems.append(f"{invalid} invalid index(es); run reindex")
        identities, templates = self.counts()
        return IntegrityReport(identities, templates, None, problems)

    def _unreadable(self, c: Any) -> list[str]:
        """Every encrypted row that fails authentication or decrypts to a damaged vector, as problems."""
        bad: list[str] = []
        last = 0
        while rows := sealed_templates(c, self.schema, last, _ROTATE_CHUNK):
            for tid, ident, blob in rows:
                try:
                    self._sealed.open(blob, tid, ident)  # type: ignore[union-attr]
                except CorruptDataError:
                    bad.append(str(tid))
            last = rows[-1][0]
        if not bad:
            return []
        shown = ", ".join(bad[:10]) + (" …" if len(bad) > 10 else "")
        return [f"{len(bad)} encrypted template(s) fail authentication or are damaged (ids {shown}): "
                "remove them or restore the gallery"]

    def rotate_encryption(self, new_key: ProtectionKey, progress: Any = None) -> int:
        """Re-encrypt every template under ``new_key`` in one transaction (a crash leaves the gallery
        wholly under the old or wholly under the new key), then rewrite the table files without
        the old ciphertexts (``VACUUM FULL`` or ``VACUUM`` by ``erase``); returns the number of
        templates. ``progress(done, total)`` after each batch. Other processes that have the
        gallery open fail at their next search (:class:`~facetrust.errors.WrongKeyError`)."""
        if self.cipher is None or self._sealed is None:
            raise ConfigError(f"{self.location} is not encrypted: there is no key to rotate")
        new = TemplateCipher(new_key)
        if new.fingerprint == self.cipher.fingerprint:
            raise ConfigError(f"the new key is the current key of {self.location} (fingerprint {new.fingerprint})")
        renewed = SealedRows(new, self._sealed.uuid, self.model.dim, self.location)
        s = self.schema
        with self._tx(write=True) as c:
            (total,) = c.execute(f"SELECT count(*) FROM {s}.templates").fetchone()
            done, last = 0, 0
            while rows := sealed_templates(c, s, last, _ROTATE_CHUNK):
                with c.cursor() as cur:
                    cur.executemany(f"UPDATE {s}.templates SET vector = %s WHERE id = %s",
                                    [(renewed.seal(self._sealed.open(blob, tid, ident), tid, ident), tid)
                                     for tid, ident, blob in rows])
                done, last = done + len(rows), rows[-1][0]
                if progress is not None:
                    progress(done, int(total))
            c.execute(f"UPDATE {s}.meta SET value = %s WHERE key = 'encryption'", (json.dumps(new.spec()),))
        self.cipher, self._sealed = new, renewed
        self._vacuum()  # the old row versions (old ciphertexts) leave the table files
        return done

    def reindex(self) -> None:
        with self._lock:
            if self._memory is not None:
                self._memory = MemoryIndex(self.model.dim)
                with self._tx(write=False) as c:
                    self._memory.refresh(c, self.schema, self._sealed)  # type: ignore[arg-type]
                return
            self._conn.execute(f"REINDEX TABLE {self.schema}.templates")

    def flush(self) -> None:
        """Nothing to do: every write is committed and indexed by PostgreSQL."""

    def close(self) -> None:
        with self._lock:
            try:
                if self._vacuum_pending:
                    self._vacuum()
            finally:
                self._conn.close()
