"""API keys: created by ``facetrust keys create``, stored hashed, scoped per gallery, revocable.

A key looks like ``ft_<8 hex id>_<43 random characters>``. Only its sha256 is stored
(in ``$FACETRUST_HOME/keys.json``, mode 0600): the keys are 256-bit random strings,
so a fast hash is enough — there is no password to brute-force. The id part finds the
record; the hash is compared in constant time. The server re-reads the file when it
changes, so a revoked key stops working without a restart.

A server with a ``database_url`` (several instances) keeps its keys in that database
instead (:class:`PostgresKeyStore`): a key created or revoked through any instance's
configuration counts on every instance at its next request.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from facetrust.errors import ApiKeyError, ConfigError, PermissionDeniedError

if TYPE_CHECKING:
    from facetrust.server.config import ServerConfig
    from facetrust.server.database import SharedDatabase

PREFIX = "ft_"
_ID_HEX = 8
_FORMAT_VERSION = 1


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    #: Galleries this key may use; ``None`` = every gallery.
    galleries: tuple[str, ...] | None
    created: str
    sha256: str
    revoked: str | None = None
    #: Requests per minute for this key; ``None`` = the server's setting.
    rate_limit_per_minute: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked is None

    def allows(self, gallery: str) -> bool:
        return self.galleries is None or gallery in self.galleries

    def check_gallery(self, gallery: str) -> None:
        if not self.allows(gallery):
            raise PermissionDeniedError(f"API key {self.id} is not allowed to use gallery {gallery!r}")

    def public_dict(self) -> dict[str, Any]:
        """Everything but the hash, for listings."""
        data = asdict(self)
        data.pop("sha256")
        data["galleries"] = None if self.galleries is None else list(self.galleries)
        return data


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _key_id(presented: str | None) -> str:
    if not presented:
        raise ApiKeyError("missing API key (send it in the x-api-key header)")
    return presented[len(PREFIX):len(PREFIX) + _ID_HEX] if presented.startswith(PREFIX) else ""


def _verify(presented: str, record: ApiKey | None) -> ApiKey:
    """``record`` if ``presented`` is its active key, else :class:`ApiKeyError`."""
    # Compare against a dummy when the id is unknown, so timing does not tell which ids exist.
    expected = record.sha256 if record is not None else _hash("unknown")
    if not hmac.compare_digest(expected, _hash(presented)) or record is None:
        raise ApiKeyError("invalid API key")
    if not record.active:
        raise ApiKeyError(f"API key {record.id} was revoked")
    return record


def _check_rate(rate_limit_per_minute: float | None) -> None:
    if rate_limit_per_minute is not None and rate_limit_per_minute <= 0:
        raise ConfigError(f"rate limit must be > 0 requests per minute, got {rate_limit_per_minute}")


def open_key_store(config: "ServerConfig", database: "SharedDatabase | None" = None) -> "KeyStore | PostgresKeyStore":
    """The server's key store: the shared database's with ``database_url``, else the key file."""
    if not config.database_url:
        return KeyStore(config.keys_path())
    if database is None:
        from facetrust.server.database import SharedDatabase

        database = SharedDatabase(config.database_url, config.database_schema, config.database_connect_timeout_s)
    return PostgresKeyStore(database)


class KeyStore:
    """The key file; safe for one writer (the CLI) and many readers (servers)."""

    #: Seconds between checks of the file's modification time by a running server.
    RELOAD_INTERVAL_S = 1.0

    #: Its calls touch only memory and, at most once a second, a small file: fine on the event loop.
    shared = False

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._keys: dict[str, ApiKey] = {}
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        self._load()

    @property
    def location(self) -> str:
        return str(self.path)

    # -- reading -----------------------------------------------------------
    def _load(self) -> None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._keys, self._stamp = {}, None
            return
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            records = data["keys"]
            keys = {r["id"]: ApiKey(**{**r, "galleries": None if r["galleries"] is None else tuple(r["galleries"])})
                    for r in records}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{self.path}: not a facetrust key file ({exc})") from None
        self._keys, self._stamp = keys, stamp

    def refresh(self) -> None:
        """Re-read the file if it changed (at most once per RELOAD_INTERVAL_S)."""
        now = time.monotonic()
        if now - self._checked < self.RELOAD_INTERVAL_S:
            return
        with self._lock:
            self._checked = now
            self._load()

    def list(self, include_revoked: bool = True) -> list[ApiKey]:
        self.refresh()
        return [k for k in self._keys.values() if include_revoked or k.active]

    def authenticate(self, presented: str | None) -> ApiKey:
        """The active key matching ``presented``, or :class:`ApiKeyError`."""
        key_id = _key_id(presented)
        self.refresh()
        record = self._keys.get(key_id)
        if record is None and key_id:  # a key created since the last reload works at once
            with self._lock:
                self._load()
            record = self._keys.get(key_id)
        return _verify(str(presented), record)

    # -- writing -----------------------------------------------------------
    def create(self, name: str = "", galleries: list[str] | None = None,
               rate_limit_per_minute: float | None = None) -> tuple[ApiKey, str]:
        """A new key; returns (record, secret). The secret is shown once and never stored."""
        _check_rate(rate_limit_per_minute)
        with self._lock:
            self._load()
            key_id = secrets.token_hex(_ID_HEX // 2)
            while key_id in self._keys:
                key_id = secrets.token_hex(_ID_HEX // 2)
            secret = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
            record = ApiKey(key_id, name, None if not galleries else tuple(galleries), _now(), _hash(secret),
                            rate_limit_per_minute=rate_limit_per_minute)
            self._save({**self._keys, key_id: record})
        return record, secret

    def revoke(self, key_id: str) -> ApiKey:
        with self._lock:
            self._load()
            record = self._keys.get(key_id)
            if record is None:
                raise ConfigError(f"no API key with id {key_id!r} (see `facetrust keys list`)")
            if record.active:
                record = ApiKey(**{**asdict(record), "revoked": _now()})
                self._save({**self._keys, key_id: record})
        return record

    def _save(self, keys: dict[str, ApiKey]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        records = [{**asdict(k), "galleries": None if k.galleries is None else list(k.galleries)}
                   for k in keys.values()]
        text = json.dumps({"version": _FORMAT_VERSION, "keys": records}, indent=1) + "\n"
        handle, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            os.fchmod(handle, 0o600)
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._keys, self._stamp = keys, None
        self._load()


class PostgresKeyStore:
    """The keys in the shared database of several server instances (``database_url``).

    Every check reads the key's row (one primary-key lookup), so a key created or revoked
    anywhere counts on every instance at its next request. The calls block on the
    database: a server runs them off the event loop (``shared``)."""

    shared = True
    _COLUMNS = "id, name, galleries, created, sha256, revoked, rate_limit_per_minute"

    def __init__(self, database: "SharedDatabase") -> None:
        self.database = database
        self._table = f"{database.schema}.api_keys"

    @property
    def location(self) -> str:
        return f"{self.database.location} (table {self._table})"

    @staticmethod
    def _record(row: tuple[Any, ...]) -> ApiKey:
        key_id, name, galleries, created, sha256, revoked, rate = row
        return ApiKey(key_id, name, None if galleries is None else tuple(galleries), created, sha256, revoked, rate)

    def _select(self, where: str = "", params: tuple[Any, ...] = ()) -> list[ApiKey]:
        query = f"SELECT {self._COLUMNS} FROM {self._table} {where} ORDER BY created, id"
        return [self._record(row) for row in self.database.run(lambda c: c.execute(query, params).fetchall())]

    def list(self, include_revoked: bool = True) -> list[ApiKey]:
        return [k for k in self._select() if include_revoked or k.active]

    def authenticate(self, presented: str | None) -> ApiKey:
        key_id = _key_id(presented)
        found = self._select("WHERE id = %s", (key_id,)) if key_id else []
        return _verify(str(presented), found[0] if found else None)

    def create(self, name: str = "", galleries: list[str] | None = None,
               rate_limit_per_minute: float | None = None) -> tuple[ApiKey, str]:
        """A new key; returns (record, secret). The secret is shown once and never stored."""
        _check_rate(rate_limit_per_minute)
        while True:  # a random id taken already (1 in 4 billion per key) just draws again
            key_id = secrets.token_hex(_ID_HEX // 2)
            secret = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
            record = ApiKey(key_id, name, None if not galleries else tuple(galleries), _now(), _hash(secret),
                            rate_limit_per_minute=rate_limit_per_minute)
            values = (record.id, record.name, None if record.galleries is None else list(record.galleries),
                      record.created, record.sha256, None, record.rate_limit_per_minute)
            inserted = self.database.run(lambda c: c.execute(
                f"INSERT INTO {self._table} VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING "
                "RETURNING id", values).fetchone())
            if inserted is not None:
                return record, secret

    def revoke(self, key_id: str) -> ApiKey:
        self.database.run(lambda c: c.execute(
            f"UPDATE {self._table} SET revoked = %s WHERE id = %s AND revoked IS NULL", (_now(), key_id)))
        found = self._select("WHERE id = %s", (key_id,))
        if not found:
            raise ConfigError(f"no API key with id {key_id!r} (see `facetrust keys list`)")
        return found[0]

