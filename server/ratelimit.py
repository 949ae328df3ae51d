"""Token buckets for sensitive operations, per (tenant, caller, operation), kept in
PostgreSQL so that the limit holds for the whole service: N serving processes give
a caller the documented limit, not N times it (docs/security.md).

One short statement per limited call (`take_rate_token`): the bucket's row lock
queues only the calls of that bucket, and the database's clock is the one clock
every process shares. Full buckets are forgotten now and then (`forget_full`): a
missing row is a full bucket, so the table holds only recent callers however many
tenant ids requests name.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from db.connection import Connection
from server.events import repeat
from server.queries import Q

log = logging.getLogger(__name__)

# How often a serving process forgets full buckets.
FORGET_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class RateLimit:
    """`per_minute` tokens a minute, at most `burst` saved up; per_minute 0: no limit."""

    per_minute: int
    burst: int

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    @property
    def per_second(self) -> float:
        return self.per_minute / 60.0


NO_RATE_LIMIT = RateLimit(per_minute=0, burst=1)


async def take(
    conn: Connection,
    limit: RateLimit,
    tenant_id: str,
    caller: str,
    operation: str,
    *,
    now: datetime | None = None,
) -> float:
    """Take a token: 0 if the call may go, else the seconds to wait for one. `now`
    for tests only; the service uses the database's clock."""
    if not limit.enabled:
        return 0.0
    row = await conn.fetchrow(
        Q["take_rate_token"], tenant_id, caller, operation, limit.burst, limit.per_second, now
    )
    assert row is not None  # an upsert answers its row
    if row["granted"]:
        return 0.0
    return math.ceil((1.0 - float(row["tokens"])) / limit.per_second * 1000) / 1000


async def forget_full(conn: Connection, limit: RateLimit, *, now: datetime | None = None) -> int:
    """Delete the buckets that have refilled; return how many."""
    status = await conn.execute(Q["forget_full_rate_buckets"], limit.burst, limit.per_second, now)
    return int(status.rsplit(" ", 1)[-1])


async def forget_full_forever(pool: asyncpg.Pool, limit: RateLimit, stop: asyncio.Event) -> None:
    """forget_full every FORGET_EVERY until stop is set; a failed run is tried next time."""

    async def once() -> None:
        async with pool.acquire() as conn:
            await forget_full(conn, limit)

    await repeat(once, every=FORGET_EVERY, stop=stop, what="rate bucket cleanup", logger=log)
