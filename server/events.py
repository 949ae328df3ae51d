"""Job events over PostgreSQL LISTEN/NOTIFY: wake idle workers and job watchers.

Notifications only shorten waits; every wait also has a timeout, so a lost
notification (or a lost listener connection) delays work, never loses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta

import asyncpg

from anonymizers.base import Connection

log = logging.getLogger(__name__)

CHANNEL = "privacy_jobs"


class JobEvents:
    """One listening connection per process, fanned out to asyncio events."""

    def __init__(self) -> None:
        self._conn: Connection | None = None
        self._work_signals: set[asyncio.Event] = set()
        self._job_signals: dict[str, set[asyncio.Event]] = defaultdict(set)

    async def start(self, url: str) -> None:
        self._conn = await asyncpg.connect(url)
        await self._conn.add_listener(CHANNEL, self._on_notify)

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(Exception):  # closing a broken connection is fine
                await conn.close(timeout=2)

    def _on_notify(self, _conn: Connection, _pid: int, _channel: str, payload: object) -> None:
        for signal in self._work_signals:
            signal.set()
        for signal in self._job_signals.get(str(payload), ()):
            signal.set()

    def work_signal(self) -> asyncio.Event:
        """A new event set whenever any job changes (one per worker)."""
        signal = asyncio.Event()
        self._work_signals.add(signal)
        return signal

    @contextlib.contextmanager
    def watch(self, job_id: str) -> Iterator[asyncio.Event]:
        """An event set whenever this job changes, for the life of the block."""
        signal = asyncio.Event()
        self._job_signals[job_id].add(signal)
        try:
            yield signal
        finally:
            self._job_signals[job_id].discard(signal)
            if not self._job_signals[job_id]:
                del self._job_signals[job_id]


async def wait_first(timeout: timedelta, *events: asyncio.Event) -> None:
    """Wait until any of the events is set or the timeout passes."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(
            waiters, timeout=timeout.total_seconds(), return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        for w in waiters:
            w.cancel()
