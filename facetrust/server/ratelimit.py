"""Per-client token buckets: at most ``burst`` requests at once (and never more than one
minute's worth of the client's rate), refilled at ``per_minute``.

:class:`RateLimiter` keeps the buckets in memory and runs on the event loop only (one
thread), so it needs no lock. :class:`SharedRateLimiter` keeps the same buckets in the
database of several instances (``database_url``), so a key's limit holds across all of them.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from facetrust.server.database import SharedDatabase


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    #: Above this many tracked clients, full (idle) buckets are forgotten.
    MAX_TRACKED = 10_000
    #: Memory only: safe (and cheap) on the event loop.
    shared = False

    def __init__(self, per_minute: float, burst: int) -> None:
        self.per_minute = per_minute
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}

    def capacity(self, per_minute: float) -> float:
        """The bucket size for a rate: the burst, capped at one minute's worth (at least 1)."""
        return max(1.0, min(float(self.burst), per_minute))

    def acquire(self, client: str, per_minute: float | None = None) -> float:
        """Take one token; returns 0.0 if allowed, else the seconds until a token is free.
        ``per_minute`` overrides the default rate for this client (e.g. a key's own limit)."""
        return self._take(client, per_minute, take=True)

    def wait(self, client: str, per_minute: float | None = None) -> float:
        """Like :meth:`acquire` without taking a token: 0.0 while the client has one left."""
        return self._take(client, per_minute, take=False)

    def _take(self, client: str, per_minute: float | None, take: bool) -> float:
        per_minute = self.per_minute if per_minute is None else per_minute
        rate = per_minute / 60.0
        if rate <= 0:
            return 0.0
        capacity = self.capacity(per_minute)
        now = time.monotonic()
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= self.MAX_TRACKED:
                self._forget_idle(now)
            bucket = self._buckets[client] = _Bucket(capacity, now)
        bucket.tokens = min(capacity, bucket.tokens + (now - bucket.stamp) * rate)
        bucket.stamp = now
        if bucket.tokens >= 1.0:
            if take:
                bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / rate

    def _forget_idle(self, now: float) -> None:
        """Forget the buckets that have been idle long enough to be full again at any rate >= 1/minute."""
        idle = [c for c, b in self._buckets.items() if now - b.stamp >= 60.0 * self.burst]
        if not idle:  # under a flood of new clients: drop the least recently seen half
            idle = sorted(self._buckets, key=lambda c: self._buckets[c].stamp)[: len(self._buckets) // 2]
        for client in idle:
            del self._buckets[client]


class SharedRateLimiter(RateLimiter):
    """The same token buckets, in the shared database: each step is one call of the
    ``take_token`` SQL function, atomic under the bucket's row lock and timed by the
    database's clock, so instances behind a load balancer share each client's bucket.
    The calls block on the database: a server runs them off the event loop (``shared``)."""

    shared = True
    #: Seconds between deletions of idle (full again) buckets.
    CLEANUP_INTERVAL_S = 600.0

    def __init__(self, database: "SharedDatabase", per_minute: float, burst: int, name: str = "requests") -> None:
        super().__init__(per_minute, burst)
        self.database = database
        #: Buckets of this limiter are the rows whose client starts with this name.
        self.name = name
        self._cleaned = time.monotonic()

    def _take(self, client: str, per_minute: float | None, take: bool) -> float:
        per_minute = self.per_minute if per_minute is None else per_minute
        if per_minute <= 0:
            return 0.0
        s, row = self.database.schema, f"{self.name}:{client}"
        if time.monotonic() - self._cleaned > self.CLEANUP_INTERVAL_S:
            self._cleaned = time.monotonic()
            self.database.run(lambda c: c.execute(
                f"DELETE FROM {s}.rate_buckets WHERE client LIKE %s AND stamp < extract(epoch FROM now()) - %s",
                (f"{self.name}:%", 60.0 * self.burst)))
        (wait,) = self.database.run(lambda c: c.execute(f"SELECT {s}.take_token(%s, %s, %s, %s)", (
            row, self.capacity(per_minute), per_minute / 60.0, take)).fetchone())
        return float(wait)
