"""Waiting in tests: on a condition, with a deadline, never a bare sleep.

A test that must show that something did NOT happen waits for a positive sign that
the system went past the point where it would have happened (a later job finished,
a worker leased past it), then looks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

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
