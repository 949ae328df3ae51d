"""Token buckets in PostgreSQL: a burst goes through, then calls wait for the refill,
per (tenant, caller, operation); full buckets are forgotten. Times are given to the
statement (`now`), so the arithmetic is checked exactly on the real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from server import ratelimit
from server.ratelimit import RateLimit

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def test_a_burst_then_the_refill_rate(db: asyncpg.Connection) -> None:
    limit = RateLimit(per_minute=6, burst=2)  # one token per 10 s

    async def take(seconds: float) -> float:
        return await ratelimit.take(db, limit, "acme", "a", "erase", now=at(seconds))

    assert await take(0) == 0
    assert await take(0) == 0
    assert await take(0) == 10.0
    assert await take(4) == 6.0
    assert await take(10) == 0
    assert await take(10) == 10.0


async def test_tenants_callers_and_operations_have_their_own_buckets(
    db: asyncpg.Connection,
) -> None:
    limit = RateLimit(per_minute=1, burst=1)
    assert await ratelimit.take(db, limit, "acme", "a", "erase", now=T0) == 0
    assert await ratelimit.take(db, limit, "acme", "a", "erase", now=T0) == 60.0
    assert await ratelimit.take(db, limit, "acme", "b", "erase", now=T0) == 0
    assert await ratelimit.take(db, limit, "globex", "a", "erase", now=T0) == 0
    assert await ratelimit.take(db, limit, "acme", "a", "export", now=T0) == 0


async def test_zero_per_minute_means_no_limit_and_no_row(db: asyncpg.Connection) -> None:
    limit = RateLimit(per_minute=0, burst=1)
    assert all([await ratelimit.take(db, limit, "acme", "a", "erase") == 0 for _ in range(50)])
    assert await db.fetchval("SELECT count(*) FROM privacy_rate_buckets") == 0


async def test_only_full_buckets_are_forgotten(db: asyncpg.Connection) -> None:
    limit = RateLimit(per_minute=60, burst=2)  # one token a second
    await ratelimit.take(db, limit, "acme", "a", "erase", now=at(0))
    await ratelimit.take(db, limit, "globex", "a", "erase", now=at(0))
    await ratelimit.take(db, limit, "globex", "a", "erase", now=at(0.5))
    # At 1 s acme's bucket is full again (1 + 1); globex's holds 0.5 + 1 = 1.5.
    assert await ratelimit.forget_full(db, limit, now=at(1)) == 1
    assert await db.fetchval("SELECT tenant_id FROM privacy_rate_buckets") == "globex"
    # A forgotten bucket is a full one: acme gets its burst again.
    assert await ratelimit.take(db, limit, "acme", "a", "erase", now=at(1)) == 0
    assert await ratelimit.take(db, limit, "acme", "a", "erase", now=at(1)) == 0
    assert await ratelimit.take(db, limit, "acme", "a", "erase", now=at(1)) == 1.0


async def test_a_clock_that_steps_back_refills_nothing(db: asyncpg.Connection) -> None:
    limit = RateLimit(per_minute=60, burst=1)
    assert await ratelimit.take(db, limit, "acme", "a", "erase", now=at(10)) == 0
    assert await ratelimit.take(db, limit, "acme", "a", "erase", now=at(5)) == 1.0
