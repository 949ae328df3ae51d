"""A leased job's batches, each one transaction: its data change, checkpoint,
progress and audit entry commit together, so a crash anywhere resumes from the
last checkpoint, never applies a batch twice and never skips one. The batch that
finds nothing left ends the job, as does the failure after the last retry."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import asyncpg

from anonymizers import steps
from anonymizers.base import BatchResult, Tools
from anonymizers.registry import Registry
from anonymizers.text.fakes import Fakes
from anonymizers.text.identity import Identifiers
from db.connection import Connection
from server import audit, metrics, tenant_keys
from server.audit import AuditEntry
from server.blob_outbox import BlobOutbox, BlobWork
from server.blobs import BlobStore
from server.failures import UNREACHABLE, failure_text, safe_error
from server.job_end import JobEnd, end_job
from server.job_model import JobState, fake_key_context
from server.leased_job import LeasedJob, LeasedTask
from server.queries import Q
from server.tenancy import enter_tenant
from server.worker_config import WorkerConfig

# The worker's log lines keep the logger they always had, wherever the code lives.
log = logging.getLogger("server.worker")

# A tenant-wide erasure's batches are this many times the configured size.
_WHOLE_TENANT_ERASE_BATCHES = 4
# Steps one batch's transaction may cover (see BatchRunner.run): a single subject's
# job has 18 (data type, step, part) steps with nothing or little to do, which then
# take one transaction, not two.
_MAX_STEPS_PER_BATCH = 24


class Outcome(Enum):
    MORE = "more"  # the job has more batches
    DONE = "done"  # the job reached a terminal state
    LOST = "lost"  # the lease is no longer ours (expired and taken, or job finished)
    RETRY = "retry"  # the batch failed; the job waits for its retry delay


@dataclass(frozen=True)
class _Ran:
    """One batch of one task inside a batch's transaction."""

    task: LeasedTask
    part: str
    result: BatchResult


class BatchRunner:
    """Runs the batches of the jobs one worker leases, one job at a time."""

    def __init__(
        self,
        name: str,
        pool: asyncpg.Pool,
        registry: Registry,
        blobs: BlobStore,
        outbox: BlobOutbox,
        *,
        config: WorkerConfig,
    ) -> None:
        self._name = name  # the worker's: it holds the lease, and is the audit's actor
        self._pool = pool
        self._registry = registry
        self._blobs = blobs
        self._outbox = outbox
        self._config = config
        self._tools_cache: dict[uuid.UUID, Tools] = {}

    async def run(self, job_id: uuid.UUID) -> Outcome:
        """Run the leased job's next batch in one transaction.

        A batch that finishes its step (or a part of it) is followed, in the same
        transaction, by the next ones while the transaction has done fewer than a
        batch of rows:
        steps with nothing to do (most of a single subject's) then cost no
        transaction of their own. Each such step runs in a savepoint; one that
        fails is rolled back alone and runs as the next batch, where a failure
        counts as usual."""
        started = time.perf_counter()
        done: list[_Ran] = []
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                row = await conn.fetchrow(
                    Q["lock_leased_job"], job_id, self._name, self._config.lease
                )
                if row is None:
                    return Outcome.LOST
                job = LeasedJob.of(job_id, row)
                await enter_tenant(conn, job.tenant_id)
                if job.cancel_requested:
                    await self._outbox.catch_up()
                    await self._finish(conn, job, JobState.CANCELLED)
                    return Outcome.DONE
                task = await self._next_task(conn, job_id)
                if task is None:
                    await self._outbox.catch_up()
                    await self._finish(conn, job, JobState.SUCCEEDED)
                    return Outcome.DONE
                done.append(await self._step(conn, job, task))
                await self._more_steps(conn, job, done)
                await conn.execute(Q["reset_attempts"], job_id)
                await self._audit(conn, job, done)
        except Exception as exc:  # any failure: retried, and the job fails after N tries
            try:
                return await self._record_failure(job_id, exc)
            except UNREACHABLE as again:
                # Not even the failure could be recorded: the lease runs out and the
                # job is taken again, from its last committed batch.
                log.warning(
                    "failure not recorded",
                    extra={"job_id": str(job_id), "error": safe_error(again)},
                )
                return Outcome.LOST
        _observe(job, done, (time.perf_counter() - started) / len(done))
        metrics.heartbeat()
        # After the commit: the rows are gone or anonymized, so their blobs follow,
        # while the next batch runs (a blob store's time is mostly the disk's or
        # the network's). A crash or a failure leaves the outbox rows, which
        # BlobOutbox.drain clears before the job can end.
        rewrites = [w for r in done for w in r.result.blob_rewrites]
        deletions = [k for r in done for k in r.result.blob_keys]
        if rewrites or deletions:
            await self._outbox.queue(BlobWork(job_id, job.tenant_id, rewrites, deletions))
        return Outcome.MORE

    async def _more_steps(self, conn: Connection, job: LeasedJob, done: list[_Ran]) -> None:
        """A finished part is followed by the next one in the same transaction."""
        while done[-1].result.finished and len(done) < _MAX_STEPS_PER_BATCH:
            if sum(r.result.processed for r in done) >= self._config.batch_size:
                break
            task = await self._next_task(conn, job.id)
            if task is None:
                break  # the job ends in its own transaction, after this one's blobs
            try:
                async with conn.transaction():  # a savepoint
                    ran = await self._step(conn, job, task)
            except Exception as exc:  # runs again as the next batch, counted there
                log.info("step deferred", extra={"job_id": str(job.id), "error": safe_error(exc)})
                break
            done.append(ran)

    async def _audit(self, conn: Connection, job: LeasedJob, done: list[_Ran]) -> None:
        for i, ran in enumerate(done):
            entry = self._audit_entry(job, ran)
            # Last, and the last one with the notification: the chain head is
            # locked from the first append to the commit.
            if i + 1 < len(done):
                await audit.append(conn, entry)
            else:
                await audit.append_and_notify(conn, entry, job.id)

    async def _next_task(self, conn: Connection, job_id: uuid.UUID) -> LeasedTask | None:
        row = await conn.fetchrow(Q["next_task"], job_id)
        return None if row is None else LeasedTask.of(row)

    def _audit_entry(self, job: LeasedJob, ran: _Ran) -> AuditEntry:
        """A step's batch in the audit log: counts and ids, nothing of the subject."""
        task, result = ran.task, ran.result
        return AuditEntry(
            tenant_id=job.tenant_id,
            actor=self._name,
            action=f"{job.kind.value}.{task.step}",
            job_id=job.id,
            subject_hash=job.subject_hash,
            data_type=task.data_type,
            details={
                "batch": task.batches + 1,
                "processed": result.processed,
                "part": ran.part,
                "checkpoint": result.checkpoint,
                "finished": result.finished,
                **(
                    {"needs_review": [file_id for file_id, _ in result.needs_review]}
                    if result.needs_review
                    else {}
                ),
                # Gone from the blob store already: recorded, not an error.
                **({"missing_files": list(result.missing_files)} if result.missing_files else {}),
            },
        )

    async def _step(self, conn: Connection, job: LeasedJob, task: LeasedTask) -> _Ran:
        """One batch of one task: the data change, its checkpoint and its blob outbox rows."""
        anonymizer = self._registry.get(task.data_type)
        limit = self._config.batch_size
        if job.erases_whole_tenant:
            # Plain deletes of every row: a batch's fixed cost (lease, checkpoint,
            # audit entry) is worth spreading over more of them.
            limit *= _WHOLE_TENANT_ERASE_BATCHES
        tools = await self._tools(conn, job)
        batch, result, at = await steps.run_batch(
            anonymizer, task.operation(job), conn, job.scope, task.at, limit=limit, tools=tools
        )
        await conn.execute(
            Q["advance_task"],
            job.id,
            task.position,
            at.part,
            at.checkpoint,
            result.processed,
            at.finished,
            list(at.parts_done),
        )
        await self._outbox.record(conn, job.id, job.tenant_id, task.data_type, result)
        if result.needs_review:
            ids, reasons = zip(*result.needs_review, strict=True)
            await conn.execute(
                Q["insert_reviews"],
                job.id,
                job.tenant_id,
                list(ids),
                [task.data_type] * len(ids),
                list(reasons),
            )
        return _Ran(task, batch.part, result)

    async def _tools(self, conn: Connection, job: LeasedJob) -> Tools:
        """The job's tools, built once per job: a tenant's identifiers can be many."""
        cached = self._tools_cache.get(job.id)
        if cached is not None:
            return cached
        row = await conn.fetchrow(Q["job_identifiers_and_key"], job.id)
        tenant_id = job.tenant_id
        keyring = self._config.keyring
        key = await tenant_keys.tenant_key(conn, tenant_id, keyring)
        fake_key = key  # fakes consistent across jobs: the caller asked for them
        if row is not None and row["fake_key"] is not None:
            fake_key = keyring.unwrap(bytes(row["fake_key"]), fake_key_context(job.id))

        async def read_blobs(keys: Sequence[str]) -> list[bytes | None]:
            # The job's tenant with every key: the store reads only that tenant's blobs.
            return await asyncio.to_thread(self._blobs.get_many, tenant_id, keys)

        tools = Tools.for_job(
            anonymize=job.anonymizes,
            identifiers=Identifiers.from_json(row["identifiers"]) if row else Identifiers(),
            whole_tenant=job.whole_tenant,
            fakes=Fakes(fake_key),
            read_blobs=read_blobs,
            tenant_key=key,
        )
        self._tools_cache = {job.id: tools}  # one job at a time per worker
        return tools

    async def _finish(self, conn: Connection, job: LeasedJob, state: JobState) -> None:
        """End the job with nothing left to do (SUCCEEDED) or cancelled, in this batch."""
        # Blob work of committed batches must be done before the job ends, whatever
        # its end: the rows are gone, their blobs must not stay behind.
        await self._outbox.drain(conn, job.id, job.tenant_id)
        tasks = await conn.fetch(Q["job_tasks"], job.id)
        done = {t["data_type"]: t["done"] for t in tasks}
        error = ""
        if state is JobState.CANCELLED:
            rows = ", ".join(f"{data_type} {n}" for data_type, n in done.items())
            error = f"cancelled at a batch boundary after {sum(done.values())} rows ({rows})"
        details: dict[str, object] = {"done": done}
        shred = state is JobState.SUCCEEDED and self._erased_everything(job, tasks)
        if shred:
            details["tenant_key_destroyed"] = True
        self._tools_cache.pop(job.id, None)
        await end_job(
            conn,
            JobEnd(
                job_id=job.id,
                tenant_id=job.tenant_id,
                subject_hash=job.subject_hash,
                state=state,
                error=error,
                actor=self._name,
                details=details,
                destroy_tenant_key=shred,
            ),
        )
        metrics.JOBS_FINISHED.labels(kind=job.kind.value, state=state.value).inc()
        log.info("job finished", extra={"job_id": str(job.id), "state": state.value})

    def _erased_everything(self, job: LeasedJob, tasks: Sequence[asyncpg.Record]) -> bool:
        """A whole tenant erased: every data type, no period (retention's are limited)."""
        return (
            job.erases_whole_tenant
            and not job.limited_to_a_period
            and {t["data_type"] for t in tasks} >= {a.data_type for a in self._registry.ordered()}
        )

    async def _record_failure(self, job_id: uuid.UUID, exc: BaseException) -> Outcome:
        """Count a failed batch; after the last retry, end the job FAILED."""
        log.warning("batch failed", extra={"job_id": str(job_id), "error": safe_error(exc)})
        metrics.BATCH_FAILURES.inc()
        retry = self._config.retry
        async with self._pool.acquire() as conn, conn.transaction():
            error = await failure_text(conn, exc)
            row = await conn.fetchrow(Q["lock_failed_job"], job_id, self._name)
            if row is None:
                return Outcome.LOST
            attempts = int(row["attempts"]) + 1
            # Released with a lease that expires after the backoff: nobody takes it sooner.
            await conn.execute(Q["record_failure"], job_id, attempts, error, retry.delay(attempts))
            if not retry.gives_up(attempts):
                return Outcome.RETRY
            metrics.JOBS_FINISHED.labels(kind=row["kind"], state=JobState.FAILED.value).inc()
            try:
                async with conn.transaction():  # a savepoint: the failure is recorded anyway
                    await self._outbox.drain(conn, job_id, row["tenant_id"])
            except Exception as again:
                # The store is failing, or refuses a key: the outbox keeps those rows,
                # and the job ends FAILED all the same (raised here, the failure was
                # rolled back and the job re-leased forever).
                log.warning(
                    "blob work deferred",
                    extra={"job_id": str(job_id), "error": safe_error(again)},
                )
            self._tools_cache.pop(job_id, None)
            await end_job(
                conn,
                JobEnd(
                    job_id=job_id,
                    tenant_id=row["tenant_id"],
                    subject_hash=row["subject_hash"],
                    state=JobState.FAILED,
                    error=f"gave up after {attempts} failed attempts; last error: {error}",
                    actor=self._name,
                    details={"attempts": attempts, "error": error},
                ),
            )
            return Outcome.DONE


def _observe(job: LeasedJob, done: list[_Ran], seconds_each: float) -> None:
    """The batches' metrics: each step's share of the transaction's time."""
    for ran in done:
        result = ran.result
        labels = {"kind": job.kind.value, "data_type": ran.task.data_type}
        metrics.BATCHES.labels(**labels).inc()
        metrics.ROWS.labels(**labels).inc(result.processed)
        metrics.BATCH_SECONDS.labels(**labels).observe(seconds_each)
        if result.needs_review:
            metrics.FILES_NEEDING_REVIEW.labels(**labels).inc(len(result.needs_review))
