"""Job events over PostgreSQL LISTEN/NOTIFY: wake idle workers and job watchers.

Notifications only shorten waits; every wait also has a timeout, so a lost
notification (or a lost listener connection) delays work, never loses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta

import asyncpg

from db.connection import Connection

log = logging.getLogger(__name__)

CHANNEL = "privacy_jobs"
RECONNECT_FIRST = 0.2  # seconds; doubles up to RECONNECT_MAX while the database is away
RECONNECT_MAX = 5.0


class JobEvents:
    """One listening connection per process, fanned out to asyncio events."""

    def __init__(self) -> None:
        self._url = ""
        self._conn: Connection | None = None
        self._closing = False
        self._reconnecting: asyncio.Task[None] | None = None
        self._work_signals: set[asyncio.Event] = set()
        self._job_signals: dict[str, set[asyncio.Event]] = defaultdict(set)

    async def start(self, url: str) -> None:
        self._url = url
        await self._connect()

    async def _connect(self) -> None:
        conn = await asyncpg.connect(self._url)
        await conn.add_listener(CHANNEL, self._on_notify)
        conn.add_termination_listener(self._on_lost)
        self._conn = conn

    def _on_lost(self, _conn: Connection) -> None:
        # The database restarted or the network broke: listen again once it is back.
        if not self._closing and self._reconnecting is None:
            self._reconnecting = asyncio.ensure_future(self._reconnect())

    async def _reconnect(self) -> None:
        delay = RECONNECT_FIRST
        try:
            while not self._closing:
                try:
                    await self._connect()
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RECONNECT_MAX)
                    continue
                log.info("listening for job changes again")
                self._wake_all()  # changes made while away were not heard: look again
                return
        finally:
            self._reconnecting = None

    def _wake_all(self) -> None:
        for signal in self._work_signals:
            signal.set()
        for signals in self._job_signals.values():
            for signal in signals:
                signal.set()

    async def close(self) -> None:
        self._closing = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
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


async def repeat(
    step: Callable[[], Awaitable[object]],
    *,
    every: timedelta,
    stop: asyncio.Event,
    what: str,
    logger: logging.Logger,
) -> None:
    """Run `step` every `every` until stop is set. A database that cannot be reached
    fails one run, logged as "<what> failed" on `logger`; the next run tries again."""
    while not stop.is_set():
        try:
            await step()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            logger.warning(f"{what} failed", extra={"error": type(exc).__name__})
        await wait_first(every, stop)
