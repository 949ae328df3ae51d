"""Token buckets: a burst goes through, then calls wait for the refill, per key."""

from __future__ import annotations

from server.ratelimit import MAX_BUCKETS, RateLimit, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_refill_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimit(per_minute=6, burst=2), clock)
    assert limiter.take("a", "acme", "erase") == 0
    assert limiter.take("a", "acme", "erase") == 0
    assert limiter.take("a", "acme", "erase") == 10.0  # one token per 10 s
    clock.now = 4.0
    assert limiter.take("a", "acme", "erase") == 6.0
    clock.now = 10.0
    assert limiter.take("a", "acme", "erase") == 0


def test_callers_tenants_and_operations_have_their_own_buckets() -> None:
    limiter = RateLimiter(RateLimit(per_minute=1, burst=1), Clock())
    assert limiter.take("a", "acme", "erase") == 0
    assert limiter.take("a", "acme", "erase") > 0
    assert limiter.take("b", "acme", "erase") == 0
    assert limiter.take("a", "globex", "erase") == 0
    assert limiter.take("a", "acme", "export") == 0


def test_zero_per_minute_means_no_limit() -> None:
    limiter = RateLimiter(RateLimit(per_minute=0, burst=1), Clock())
    assert all(limiter.take("a", "acme", "erase") == 0 for _ in range(1000))


def test_idle_buckets_are_dropped_so_memory_stays_bounded() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimit(per_minute=60, burst=1), clock)
    for i in range(MAX_BUCKETS + 1):
        limiter.take("a", f"t{i}", "erase")
    clock.now = 60.0  # every bucket refilled
    limiter.take("a", "new", "erase")
    assert len(limiter._buckets) <= 1
