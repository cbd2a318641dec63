"""Per-client token buckets: ``burst`` requests at once, refilled at ``per_minute``.

Runs on the event loop only (one thread), so it needs no lock.
"""
from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    #: Above this many tracked clients, full (idle) buckets are forgotten.
    MAX_TRACKED = 10_000

    def __init__(self, per_minute: float, burst: int) -> None:
        self.per_minute = per_minute
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}

    def acquire(self, client: str, per_minute: float | None = None) -> float:
        """Take one token; returns 0.0 if allowed, else the seconds until a token is free.
        ``per_minute`` overrides the default rate for this client (e.g. a key's own limit)."""
        rate = (self.per_minute if per_minute is None else per_minute) / 60.0
        if rate <= 0:
            return 0.0
        now = time.monotonic()
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= self.MAX_TRACKED:
                self._forget_idle(now, rate)
            bucket = self._buckets[client] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.stamp) * rate)
        bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / rate

    def _forget_idle(self, now: float, rate: float) -> None:
        full = [c for c, b in self._buckets.items() if b.tokens + (now - b.stamp) * rate >= self.burst]
        for client in full:
            del self._buckets[client]
