"""Workers: lease a job, run it batch by batch (server/batch_runner.py), give the
lease back after a time slice or on shutdown.

A batch's data change, its checkpoint, its progress and its audit entry commit
together, so a crash anywhere resumes from the last checkpoint, never applies a
batch twice and never skips one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid

import asyncpg

from anonymizers.registry import Registry
from server import metrics
from server.batch_runner import BatchRunner, Outcome
from server.blob_outbox import BlobOutbox
from server.blobs import BlobStore
from server.events import JobEvents, wait_first
from server.failures import UNREACHABLE, safe_error
from server.job_plan import replan
from server.queries import Q
from server.worker_config import WorkerConfig

log = logging.getLogger(__name__)


def worker_name(index: int) -> str:
    """host:pid:index, unique among live workers."""
    return f"{socket.gethostname()}:{os.getpid()}:{index}"


class Worker:
    """One async worker: leases jobs from the queue and runs their batches."""

    def __init__(
        self,
        name: str,
        pool: asyncpg.Pool,
        registry: Registry,
        blobs: BlobStore,
        events: JobEvents,
        *,
        config: WorkerConfig,
    ) -> None:
        self.name = name
        self._pool = pool
        self._registry = registry
        self._events = events
        self._config = config
        self._lease = config.lease
        # Blob work of committed batches, running while the next batches do.
        self._outbox = BlobOutbox(name, pool, blobs)
        self._batches = BatchRunner(name, pool, registry, blobs, self._outbox, config=config)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until stop is set; an in-flight batch always finishes first."""
        signal = self._events.work_signal()
        log.info("worker started", extra={"worker": self.name})
        metrics.WORKERS_ACTIVE.inc()
        try:
            while not stop.is_set():
                signal.clear()
                metrics.heartbeat()
                try:
                    job_id = await self.lease_next()
                except UNREACHABLE as exc:
                    # The database is away: wait and try again, the queue is durable.
                    log.warning("cannot lease", extra={"error": safe_error(exc)})
                    job_id = None
                if job_id is None:
                    await wait_first(self._config.poll_interval, signal, stop)
                    continue
                try:
                    await self._run_job(job_id, stop)
                except Exception as exc:  # a worker must outlive any one job's trouble
                    # E.g. the database went away between batches: the lease runs out
                    # and the job is taken again from its last committed batch.
                    log.warning(
                        "job interrupted",
                        extra={"job_id": str(job_id), "error": safe_error(exc)},
                    )
                    await wait_first(self._config.poll_interval, stop)
        finally:
            metrics.WORKERS_ACTIVE.dec()
            await self._outbox.catch_up()  # deletions left running after the last job
        log.info("worker stopped", extra={"worker": self.name})

    async def lease_next(self) -> uuid.UUID | None:
        """Lease the most urgent job nobody holds; None when there is none."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                Q["lease_next_job"], self.name, self._lease, self._config.at_risk
            )
            if row is None:
                return None
            job_id: uuid.UUID = row["id"]
            if row["replan"]:
                # A scheduled job starts after its grace period: plan it again
                # on today's data (new rows, changed identifiers).
                await replan(
                    conn,
                    self._registry,
                    job_id,
                    default_region=self._config.default_region,
                    keyring=self._config.keyring,
                )
        return job_id

    async def _run_job(self, job_id: uuid.UUID, stop: asyncio.Event) -> None:
        log.info("job leased", extra={"job_id": str(job_id), "worker": self.name})
        slice_ends = time.monotonic() + self._config.time_slice.total_seconds()
        try:
            while True:
                if stop.is_set():
                    await self._outbox.catch_up()
                    await self._release(job_id, used_slice=False)
                    return
                outcome = await self.run_batch(job_id)
                if outcome is not Outcome.MORE:
                    return
                if time.monotonic() >= slice_ends:
                    # Back to the queue: the next lease picks the most urgent job,
                    # which is this one again only if nothing else waits.
                    await self._outbox.catch_up(rewrites_only=True)
                    await self._release(job_id, used_slice=True)
                    return
        finally:
            # Rewrites are done before another worker may take the job (a blob
            # rewritten twice must end as the later batch wrote it). Deletions may
            # go on meanwhile: deleting twice is harmless, and the job ends only
            # once its outbox is empty (BlobOutbox.drain at its end).
            await self._outbox.catch_up(rewrites_only=True)

    async def _release(self, job_id: uuid.UUID, *, used_slice: bool) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(Q["release_lease"], job_id, self.name, int(used_slice))
        log.info("job released", extra={"job_id": str(job_id), "worker": self.name})

    async def run_batch(self, job_id: uuid.UUID) -> Outcome:
        """Run the leased job's next batch in one transaction (BatchRunner.run)."""
        return await self._batches.run(job_id)
