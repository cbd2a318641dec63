"""The ASGI gate in front of every request: API key, rate limit, upload size and upload time.

Failed key checks are limited per client address (``auth_failures_per_minute``): past
that an address gets 429 with Retry-After, even for a good key, until its bucket refills.

It runs before any route, so a request with a bad key or over its rate limit is refused
before its body is read, and the app only ever sees bodies that arrived completely,
within ``upload_timeout_s`` and within ``max_upload_bytes``. A client that disconnects
mid-upload is simply dropped.

With a shared key store and rate limiter (``database_url``: several instances) the checks
are database calls: they run in a thread, off the event loop, and a database that cannot
be reached gets a 503 (``database_unavailable``).
"""
from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

from starlette.concurrency import run_in_threadpool

from facetrust.errors import ApiKeyError, StorageError
from facetrust.server.errors import RateLimitedError, UploadTimeoutError, UploadTooLargeError, error_response
from facetrust.server.keys import ApiKey, KeyStore, PostgresKeyStore
from facetrust.server.ratelimit import RateLimiter

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: Paths that need an API key; the UI page, /health, /version and the OpenAPI docs do not.
PROTECTED_PREFIXES = ("/v1/", "/api/v1/")
#: A body over the limit is still read (and dropped) up to this multiple of it, so the
#: client gets its 413 instead of a reset connection; beyond it the connection is closed.
_DRAIN_FACTOR = 4


def presented_key(scope: Scope) -> str | None:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    if headers.get("x-api-key"):
        return headers["x-api-key"].strip()
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class Gate:
    def __init__(self, app: Any, keys: KeyStore | PostgresKeyStore, limiter: RateLimiter, auth: bool,
                 max_upload_bytes: int, upload_timeout_s: float, auth_failures: RateLimiter | None = None) -> None:
        self.app = app
        self.keys = keys
        self.limiter = limiter
        #: Failed key checks allowed per client address (a bucket per address).
        self.auth_failures = auth_failures or RateLimiter(0, 1)
        self.auth = auth
        self.max_upload_bytes = max_upload_bytes
        self.upload_timeout_s = upload_timeout_s
        #: Database-backed checks block: run them in a thread.
        self.blocking = keys.shared or limiter.shared or self.auth_failures.shared

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        try:
            if path.startswith(PROTECTED_PREFIXES) and scope["method"] != "OPTIONS":
                key = await run_in_threadpool(self._admit, scope) if self.blocking else self._admit(scope)
                scope.setdefault("state", {})["api_key"] = key
            body = await self._read_body(receive)
        except (ApiKeyError, RateLimitedError, UploadTooLargeError, UploadTimeoutError,
                StorageError) as exc:  # StorageError: the shared database failed or is unreachable (503)
            await error_response(path, exc)(scope, receive, send)
            return
        if body is None:
            return  # the client went away mid-upload: nobody to answer
        await self.app(scope, _replay(body, receive), send)

    def _admit(self, scope: Scope) -> ApiKey | None:
        address = f"ip:{(scope.get('client') or ('?',))[0]}"
        key = self._authenticate(scope, address) if self.auth else None
        client = f"key:{key.id}" if key is not None else address
        wait = self.limiter.acquire(client, key.rate_limit_per_minute if key is not None else None)
        if wait > 0:
            raise RateLimitedError(f"rate limit exceeded; retry in {wait:.1f} s", wait)
        return key

    def _authenticate(self, scope: Scope, address: str) -> ApiKey:
        """The request's key; an address that failed too often is refused (429) without a check."""
        wait = self.auth_failures.wait(address)
        if wait > 0:
            raise RateLimitedError(f"too many failed API key checks from this address; retry in {wait:.1f} s", wait)
        try:
            return self.keys.authenticate(presented_key(scope))
        except ApiKeyError:
            self.auth_failures.acquire(address)
            raise

    async def _read_body(self, receive: Receive) -> bytes | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.upload_timeout_s
        chunks: list[bytes] = []
        size = 0
        while True:
            remaining = deadline - loop.time()
            try:
                if remaining <= 0:
                    raise asyncio.TimeoutError
                message = await asyncio.wait_for(receive(), remaining)
            except asyncio.TimeoutError:
                raise UploadTimeoutError(f"request body not received within {self.upload_timeout_s:g} s") from None
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size <= self.max_upload_bytes:
                chunks.append(chunk)
            else:
                chunks.clear()
            if not message.get("more_body", False) or size > _DRAIN_FACTOR * self.max_upload_bytes:
                break
        if size > self.max_upload_bytes:
            raise UploadTooLargeError(f"request body exceeds the limit of {self.max_upload_bytes:,} bytes")
        return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive() that hands the buffered body once, then waits for the real disconnect."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
