"""Running jobs in tests with the service's own workers, over the test database, with
no App and no gRPC: `submission.submit`, then batches.

The one place tests build and drive a `Worker` (see the `worker` fixture): when the
worker's API changes, this module follows it and the tests do not.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import asyncpg

from anonymizers.registry import Registry, default_registry
from server import job_model, submission
from server.batch_runner import Outcome
from server.blobs import BlobStore
from server.config import Settings
from server.database import create_pool, resolve_url
from server.events import JobEvents
from server.job_model import Job, JobKind, JobRequest, ReasonCode
from server.keyring import Keyring
from server.subjects import Subject, SubjectKind
from server.worker import Worker
from server.worker_config import RetryPolicy, WorkerConfig
from tests.helpers.waiting import eventually

__all__ = ["JobRunner", "Outcome", "erase_request", "job_runner"]


def erase_request(tenant_id: str, kind: SubjectKind, value: str, **changes: Any) -> JobRequest:
    """An Erase of one subject as a caller would ask it (an Anonymize with kind=...)."""
    request = JobRequest(
        tenant_id=tenant_id,
        kind=JobKind.ERASE,
        subject=Subject(kind, value),
        data_types=(),
        dry_run=False,
        idempotency_key=None,
        reason_code=ReasonCode.OTHER,
        note="",
        requested_by="tester",
    )
    return replace(request, **changes)


@dataclass
class JobRunner:
    """Submits jobs and runs them with `Worker`s over one pool of the test database."""

    pool: asyncpg.Pool
    events: JobEvents
    settings: Settings
    keyring: Keyring
    registry: Registry
    blobs: BlobStore
    _workers: dict[str, Worker] = field(default_factory=dict)

    def configured(
        self,
        *,
        registry: Registry | None = None,
        blobs: BlobStore | None = None,
        **settings: Any,
    ) -> JobRunner:
        """The same runner with another registry, blob store or settings (batch_size,
        max_attempts, retry_base, time_slice, lease…), over the same pool."""
        return replace(
            self,
            settings=replace(self.settings, **settings),
            registry=registry or self.registry,
            blobs=blobs or self.blobs,
            _workers={},
        )

    async def submit(self, request: JobRequest) -> Job:
        """`submission.submit`, as the service calls it."""
        async with self.pool.acquire() as conn:
            return await submission.submit(
                conn,
                self.registry,
                request,
                deadline=self.settings.deadline,
                default_region=self.settings.default_phone_region,
                keyring=self.keyring,
            )

    async def erase(self, tenant_id: str, kind: SubjectKind, value: str, **changes: Any) -> Job:
        return await self.submit(erase_request(tenant_id, kind, value, **changes))

    async def get(self, job_id: uuid.UUID) -> Job:
        async with self.pool.acquire() as conn:
            return await job_model.get(conn, job_id)

    def worker(self, name: str = "test:0") -> Worker:
        """The named worker of `lease` and `run_batch`: made once, then the same."""
        if name not in self._workers:
            self._workers[name] = self._new_worker(name)
        return self._workers[name]

    def _new_worker(self, name: str) -> Worker:
        """A worker as the App makes one (App.make_worker), from these settings."""
        s = self.settings
        config = WorkerConfig(
            batch_size=s.batch_size,
            lease=s.lease,
            poll_interval=s.poll_interval,
            time_slice=s.time_slice,
            retry=RetryPolicy(max_attempts=s.max_attempts, base_delay=s.retry_base),
            default_region=s.default_phone_region,
            keyring=self.keyring,
        )
        return Worker(name, self.pool, self.registry, self.blobs, self.events, config=config)

    async def lease(self, name: str = "test:0") -> uuid.UUID | None:
        """One lease attempt by the named worker: the job it took, None when it took
        none (no job is due, or every due one is another's)."""
        return await self.worker(name).lease_next()

    async def run_batch(self, job_id: uuid.UUID, name: str = "test:0") -> Outcome:
        """The next batch (one transaction) of a job the named worker leased."""
        return await self.worker(name).run_batch(job_id)

    @asynccontextmanager
    async def running(self, workers: int = 1) -> AsyncIterator[None]:
        """`workers` new worker loops in the background while the block runs; on leaving,
        stopped as the App stops them (each finishes its batch and lets go of its job;
        past the grace, cancelled)."""
        stop = asyncio.Event()
        loops = [
            asyncio.create_task(self._new_worker(f"loop:{i}").run(stop)) for i in range(workers)
        ]
        try:
            yield
        finally:
            stop.set()
            _, late = await asyncio.wait(loops, timeout=self.settings.grace.total_seconds())
            for task in late:
                task.cancel()
            results = await asyncio.gather(*loops, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                raise result

    async def finished(self, job_id: uuid.UUID, *, timeout: float = 60) -> Job:
        """The job once it is in a terminal state (something else runs it)."""

        async def ended() -> Job | None:
            job = await self.get(job_id)
            return job if job.state.terminal else None

        return await eventually(ended, timeout=timeout, what=f"job {job_id} ending")

    async def run(self, *job_ids: uuid.UUID, workers: int = 1, timeout: float = 60) -> list[Job]:
        """Run worker loops until every one of the jobs ended; the jobs as they ended."""
        async with self.running(workers):
            return [await self.finished(job_id, timeout=timeout) for job_id in job_ids]


@asynccontextmanager
async def job_runner(
    settings: Settings, keyring: Keyring, blobs: BlobStore
) -> AsyncIterator[JobRunner]:
    """A runner over the settings' database, its pool and job events open meanwhile."""
    url = resolve_url(settings.database_url, settings.data_dir)
    pool = await create_pool(url, max_size=settings.pool_size, connect_timeout=settings.db_timeout)
    events = JobEvents()
    try:
        await events.start(url)
        yield JobRunner(pool, events, settings, keyring, default_registry(), blobs)
    finally:
        await events.close()
        await pool.close()
