"""Server configuration: defaults < config file (TOML) < environment < command line.

The config file is ``--config PATH``, else ``$FACETRUST_CONFIG``, else
``$FACETRUST_HOME/server.toml`` when it exists. Its keys sit under a ``[server]``
table and have the names of :class:`ServerConfig`'s fields (the model and check
settings are :class:`~facetrust.analyzer.AnalyzerConfig`'s own). Every field can also
be set as ``FACETRUST_SERVER_<FIELD>`` (upper case): lists are comma-separated,
option dicts are JSON, booleans are 1/0/true/false.
"""
from __future__ import annotations

import json
import os
import tomllib
from dataclasses import MISSING, dataclass, fields, replace
from pathlib import Path
from typing import Any, Mapping

from facetrust.analyzer import AnalyzerConfig
from facetrust.errors import ConfigError
from facetrust.io.image import DEFAULT_MAX_PIXELS

ENV_PREFIX = "FACETRUST_SERVER_"


def facetrust_home() -> Path:
    """The data directory: ``$FACETRUST_HOME``, default ``~/.facetrust`` (keys, galleries, config)."""
    value = os.environ.get("FACETRUST_HOME")
    return Path(value).expanduser() if value else Path.home() / ".facetrust"


@dataclass(frozen=True)
class ServerConfig(AnalyzerConfig):
    """The analyzer's settings (models and per-face checks, loaded once per inference worker at
    start-up; the same names and defaults as :class:`~facetrust.analyzer.AnalyzerConfig`) plus
    the serving ones."""

    #: A number, not None: the server reports it (413 ``image_too_large``) and reads it from text.
    max_pixels: int = DEFAULT_MAX_PIXELS
    host: str = "127.0.0.1"
    port: int = 8000
    #: Inference processes (dlib holds the GIL, so parallelism needs processes); 0 = one per core.
    workers: int = 0
    #: Requests allowed to wait for a worker beyond the ones running; more get 503.
    max_pending: int = 16
    #: Seconds a request may wait for its inference result before a 504.
    request_timeout_s: float = 30.0
    #: Seconds a client has to send its whole request body (slow clients get 408).
    upload_timeout_s: float = 30.0
    max_upload_bytes: int = 10 * 1024 * 1024
    #: Open connections uvicorn accepts before answering 503.
    max_connections: int = 256
    #: Require an API key (``facetrust keys create``) on every API call.
    auth: bool = True
    #: Token bucket per API key (per client address when auth is off).
    rate_limit_per_minute: float = 600.0
    #: Requests a client may send at once; never more than its per-minute rate (so a key
    #: limited to 5 per minute gets at most 5 back-to-back).
    rate_limit_burst: int = 60
    #: Failed API key checks allowed per client address and minute (as many at once); 0 = no limit.
    auth_failures_per_minute: float = 10.0
    #: Allowed CORS origins; empty = CORS off (the web UI is same-origin).
    cors_origins: tuple[str, ...] = ()
    #: Where galleries live (default ``$FACETRUST_HOME/galleries``).
    gallery_dir: str | None = None
    #: Gallery the CompreFace recognition API uses for keys not scoped to one gallery.
    compreface_gallery: str = "default"
    #: Folder of evaluation reports (``facetrust eval … --report DIR`` outputs) the UI can show.
    reports_dir: str | None = None
    #: Key file (default ``$FACETRUST_HOME/keys.json``).
    keys_file: str | None = None
    #: Create new galleries encrypted at rest (AES-256-GCM, docs/privacy.md).
    encrypt_galleries: bool = False
    #: Key file of encrypted galleries (mode 0600); default ``$FACETRUST_ENCRYPTION_KEY`` (hex) or
    #: ``$FACETRUST_ENCRYPTION_KEY_FILE``. A path only: the key itself never goes into the config
    #: file, and no request can carry it.
    encryption_key_file: str | None = None
    #: PostgreSQL URL shared by several instances: galleries (pgvector), API keys and rate-limit
    #: buckets live there instead of in $FACETRUST_HOME (docs/distributed.md). None = one instance.
    database_url: str | None = None
    #: Schema of the shared tables; each gallery gets a schema of its own next to it.
    database_schema: str = "facetrust_server"
    #: Seconds start-up keeps retrying an unreachable database (backoff 0.1 s doubling to 2 s).
    database_connect_timeout_s: float = 30.0

    def resolved_workers(self) -> int:
        return self.workers if self.workers > 0 else (os.cpu_count() or 1)

    def galleries_path(self) -> Path:
        return Path(self.gallery_dir).expanduser() if self.gallery_dir else facetrust_home() / "galleries"

    def keys_path(self) -> Path:
        return Path(self.keys_file).expanduser() if self.keys_file else facetrust_home() / "keys.json"

    def reports_path(self) -> Path | None:
        return Path(self.reports_dir).expanduser() if self.reports_dir else None

    def with_overrides(self, overrides: Mapping[str, Any]) -> "ServerConfig":
        """A copy with the given fields changed (``None`` values are ignored), values checked."""
        return replace(self, **_coerce_all({k: v for k, v in overrides.items() if v is not None}, "option"))


#: Analyzer settings a server does not take: the fallback box is for pre-cropped evaluation sets.
_NOT_SERVED = {"fallback_box"}
_FIELDS = {f.name: f for f in fields(ServerConfig) if f.name not in _NOT_SERVED}
#: 0 means: workers = one per core, port = any free port, no rate limit, no waiting queue, no failed-key limit.
_ZERO_ALLOWED = {"workers", "port", "rate_limit_per_minute", "max_pending", "auth_failures_per_minute",
                 "database_connect_timeout_s"}


def _coerce(name: str, value: Any, origin: str) -> Any:
    """Turn a file, environment or CLI value into the field's type, or raise ConfigError."""
    if name not in _FIELDS:
        raise ConfigError(f"{origin}: unknown server setting {name!r} (known: {', '.join(_FIELDS)})")
    default = _FIELDS[name].default
    if _FIELDS[name].default_factory is not MISSING:  # the option dicts
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{origin}: {name} must be a JSON object ({exc})") from None
        if not isinstance(value, dict):
            raise ConfigError(f"{origin}: {name} must be a table / JSON object")
        return value
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                if value.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                    raise ValueError(value)
                return value.lower() in ("1", "true", "yes", "on")
            return bool(value)
        if isinstance(default, tuple):
            items = value.split(",") if isinstance(value, str) else list(value)
            return tuple(str(item).strip() for item in items if str(item).strip())
        if isinstance(default, int):
            number = int(value)
        elif isinstance(default, float):
            number = float(value)
        else:
            return None if value in (None, "") else str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{origin}: bad value {value!r} for {name}") from None
    if number < 0 or (number == 0 and name not in _ZERO_ALLOWED):
        raise ConfigError(f"{origin}: {name} must be {'>= 0' if name in _ZERO_ALLOWED else '> 0'}, got {value!r}")
    if name == "port" and number > 65535:
        raise ConfigError(f"{origin}: port must be from 0 to 65535, got {value!r}")
    return number


def _coerce_all(values: Mapping[str, Any], origin: str) -> dict[str, Any]:
    return {name: _coerce(name, value, origin) for name, value in values.items()}


def config_file_path(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    if explicit is not None:
        return Path(explicit).expanduser()
    if os.environ.get("FACETRUST_CONFIG"):
        return Path(os.environ["FACETRUST_CONFIG"]).expanduser()
    default = facetrust_home() / "server.toml"
    return default if default.is_file() else None


def load_config(path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None,
                **overrides: Any) -> ServerConfig:
    """Build the configuration from the file, then ``FACETRUST_SERVER_*`` variables, then ``overrides``."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    file = config_file_path(path)
    if file is not None:
        if not file.is_file():
            raise ConfigError(f"{file}: config file not found")
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{file}: not valid TOML ({exc})") from None
        section = data.get("server", {})
        if not isinstance(section, dict):
            raise ConfigError(f"{file}: [server] must be a table")
        values.update(_coerce_all(section, str(file)))
    for key, value in environ.items():
        if key.startswith(ENV_PREFIX):
            name = key[len(ENV_PREFIX):].lower()
            values[name] = _coerce(name, value, key)
    values.update(_coerce_all({k: v for k, v in overrides.items() if v is not None}, "option"))
    return ServerConfig(**values)
