"""Token buckets for sensitive operations, per (caller, tenant, operation), in process."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

# Buckets kept at most; beyond it, full (idle) buckets are dropped. Tenant ids come
# from requests, so without a bound a caller could grow the table at will.
MAX_BUCKETS = 10_000


@dataclass(frozen=True)
class RateLimit:
    """`per_minute` tokens a minute, at most `burst` saved up; per_minute 0: no limit."""

    per_minute: int
    burst: int

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0


NO_RATE_LIMIT = RateLimit(per_minute=0, burst=1)


class RateLimiter:
    """Answers whether a call may go now, or how many seconds until it may."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self._clock = clock
        self._rate = limit.per_minute / 60.0  # tokens per second
        self._buckets: dict[tuple[str, str, str], tuple[float, float]] = {}

    def take(self, caller: str, tenant_id: str, operation: str) -> float:
        """Take a token: 0 if the call may go, else the seconds to wait for one."""
        if not self._limit.enabled:
            return 0.0
        now = self._clock()
        key = (caller, tenant_id, operation)
        tokens, at = self._buckets.get(key, (float(self._limit.burst), now))
        tokens = min(float(self._limit.burst), tokens + (now - at) * self._rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            self._prune(now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return math.ceil((1.0 - tokens) / self._rate * 1000) / 1000

    def _prune(self, now: float) -> None:
        if len(self._buckets) <= MAX_BUCKETS:
            return
        full = float(self._limit.burst)
        for key, (tokens, at) in list(self._buckets.items()):
            if tokens + (now - at) * self._rate >= full:
                del self._buckets[key]
