"""The FastAPI application factory: ``create_app(config)``.

Routes are thin: they read the upload, hand the bytes to the inference pool (or the
gallery), and shape the answer. Everything else — auth, limits, error shapes — is set
up here once.
"""
from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

import facetrust
from facetrust.analyzer import AnalyzerConfig, FaceAnalyzer
from facetrust.errors import FacetrustError
from facetrust.server.config import ServerConfig
from facetrust.server.errors import error_body, error_response, http_code
from facetrust.server.gate import Gate
from facetrust.server.headers import SecurityHeaders, mount_docs
from facetrust.server.inference import InferencePool
from facetrust.server.keys import KeyStore, PostgresKeyStore, open_key_store
from facetrust.server.ratelimit import RateLimiter, SharedRateLimiter

log = logging.getLogger("facetrust.server")
STATIC_DIR = Path(__file__).parent / "static"


@dataclass
class Services:
    """What the routes share, built once per app."""

    config: ServerConfig
    analyzer_config: AnalyzerConfig
    pool: InferencePool
    keys: KeyStore | PostgresKeyStore
    galleries: Any  # facetrust.server.galleries.Galleries or shared_galleries.SharedGalleries
    limiter: RateLimiter
    auth_failures: RateLimiter
    #: The database shared with other instances (``database_url``), else None.
    database: Any = None


def analyzer_config(config: ServerConfig) -> AnalyzerConfig:
    """The analyzer part of the server's configuration (a plain AnalyzerConfig, for the workers)."""
    return AnalyzerConfig(**{f.name: getattr(config, f.name) for f in fields(AnalyzerConfig)})


def check_config(config: ServerConfig) -> AnalyzerConfig:
    """Fail before start-up on unknown model or check names (ConfigError)."""
    analyzer = analyzer_config(config)
    FaceAnalyzer(analyzer)  # validates the registry names without loading models
    return analyzer


def stores(config: ServerConfig) -> dict[str, Any]:
    """Keys, rate limiters and galleries: in the shared database with ``database_url`` (after
    waiting for it and checking that it holds this instance's recognizer), else local."""
    auth_burst = max(1, int(config.auth_failures_per_minute))
    if not config.database_url:
        from facetrust.server.galleries import Galleries

        return {"keys": KeyStore(config.keys_path()),
                "limiter": RateLimiter(config.rate_limit_per_minute, config.rate_limit_burst),
                "auth_failures": RateLimiter(config.auth_failures_per_minute, auth_burst),
                "galleries": Galleries(config.galleries_path(), config.recognizer, config.encrypt_galleries,
                                       config.encryption_key_file)}
    from facetrust.gallery.base import model_identity
    from facetrust.server.database import SharedDatabase
    from facetrust.server.shared_galleries import SharedGalleries

    database = SharedDatabase(config.database_url, config.database_schema, config.database_connect_timeout_s)
    try:
        database.check_model(model_identity(config.recognizer))
        return {"database": database, "keys": open_key_store(config, database),
                "limiter": SharedRateLimiter(database, config.rate_limit_per_minute, config.rate_limit_burst),
                "auth_failures": SharedRateLimiter(database, config.auth_failures_per_minute, auth_burst,
                                                   name="auth-failures"),
                "galleries": SharedGalleries(database, config.recognizer, config.encrypt_galleries,
                                             config.encryption_key_file)}
    except BaseException:
        database.close()
        raise


def create_app(config: ServerConfig | None = None) -> FastAPI:
    from facetrust.server import api, compreface, galleries, reports

    config = config or ServerConfig()
    services = Services(
        config=config,
        analyzer_config=check_config(config),
        pool=InferencePool(analyzer_config(config), config.resolved_workers(),
                           config.max_pending, config.request_timeout_s),
        **stores(config),  # after check_config: a bad model name fails before any database wait
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not services.pool.running:  # `facetrust serve` starts it earlier, to report model errors in one line
            services.pool.start()
        log.info("facetrust %s: %d inference workers ready", facetrust.__version__, services.pool.workers)
        if config.auth and not services.keys.list(include_revoked=False):
            log.warning("no API key exists yet: create one with `facetrust keys create`")
        try:
            yield
        finally:
            services.pool.stop()
            services.galleries.close()
            if services.database is not None:
                services.database.close()

    app = FastAPI(title="facetrust", version=facetrust.__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Face detection, analysis, verification and galleries over the facetrust library. "
                              "Send the API key in the `x-api-key` header.")
    app.state.services = services
    _install_error_handlers(app)
    app.add_middleware(Gate, keys=services.keys, limiter=services.limiter, auth=config.auth,
                       max_upload_bytes=config.max_upload_bytes, upload_timeout_s=config.upload_timeout_s,
                       auth_failures=services.auth_failures)
    if config.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(config.cors_origins),
                           allow_methods=["GET", "POST", "PUT", "DELETE"], allow_headers=["x-api-key", "content-type"])
    for router in (api.public, api.router, galleries.router, compreface.router, reports.router):
        app.include_router(router)
    api.mount_ui(app, STATIC_DIR)
    mount_docs(app)
    app.add_middleware(SecurityHeaders)  # added last: wraps every answer, the gate's errors too
    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(FacetrustError)
    async def library_error(request: Request, exc: FacetrustError) -> JSONResponse:
        return error_response(request.url.path, exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else http_code(exc.status_code).replace("_", " ")
        return JSONResponse(error_body(request.url.path, exc.status_code, http_code(exc.status_code), message),
                            exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for item in exc.errors():
            where = ".".join(str(part) for part in item.get("loc", ())[1:]) or "request"
            problems.append(f"{where}: {item.get('msg', 'invalid')}")
        # CompreFace answers a missing part/parameter with 400 and its code 33/34.
        status = 400 if request.url.path.startswith("/api/v1/") else 422
        return JSONResponse(error_body(request.url.path, status, "bad_request", "; ".join(problems), 34), status)

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        return error_response(request.url.path, exc)
