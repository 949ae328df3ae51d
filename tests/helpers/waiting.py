"""Waiting in tests: on a condition, with a deadline, never a bare sleep.

A test that must show that something did NOT happen waits for a positive sign that
the system went past the point where it would have happened (a later job finished,
a worker leased past it), then looks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
from prometheus_client import REGISTRY

T = TypeVar("T")

POLL = 0.02  # seconds between two looks


async def eventually(
    condition: Callable[[], Awaitable[T | None]],
    *,
    timeout: float = 30,
    what: str = "the condition",
) -> T:
    """The first truthy answer of `condition`, asked until it gives one; an
    AssertionError naming `what` and the last answer once `timeout` seconds passed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        answer = await condition()
        if answer:
            return answer
        if loop.time() >= deadline:
            raise AssertionError(f"{what} did not hold within {timeout} s (last: {answer!r})")
        await asyncio.sleep(POLL)


HEARTBEAT = "privacy_worker_last_heartbeat_timestamp_seconds"


async def a_worker_cycled(workers: int, *, timeout: float = 30) -> None:
    """Return once one of this process's `workers` worker loops (an App's) has, entirely
    after the call, looked for work and run what it got (or ran a batch).

    The sign: every turn of a worker's loop, and every batch that commits with more
    to do, sets the heartbeat gauge; `workers + 1` beats after the call are either a
    batch run since, or two turns of one worker, the first begun after the call. So a
    job that was due when this was called has been leased (or a batch has run) by the
    time it returns: after it, "still not started" is a fact, not a hope."""
    since = time.time()
    beats: set[float] = set()

    async def beaten() -> bool:
        beat = REGISTRY.get_sample_value(HEARTBEAT)
        if beat is not None and beat > since:
            beats.add(beat)
        return len(beats) > workers

    await eventually(beaten, timeout=timeout, what=f"{workers + 1} worker heartbeats")


async def fetched_until(
    conn: asyncpg.Connection,
    query: str,
    *args: object,
    until: Callable[[Any], bool],
    timeout: float = 30,
) -> Any:
    """The value `query` gives once `until` holds of it (`eventually`, over one value)."""

    async def value() -> tuple[Any] | None:
        got = await conn.fetchval(query, *args)
        return (got,) if until(got) else None

    [got] = await eventually(value, timeout=timeout, what=f"{query!r} as awaited")
    return got
