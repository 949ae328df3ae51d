"""Workers: lease a job, run it batch by batch, each batch one transaction.

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
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum

import asyncpg

from anonymizers import steps
from anonymizers.base import BatchResult, Operation, Tools
from anonymizers.registry import Registry
from anonymizers.steps import Position
from anonymizers.text.fakes import Fakes
from anonymizers.text.identity import Identifiers
from anonymizers.text.phones import DEFAULT_REGION
from db.connection import Connection
from server import audit, metrics, tenant_keys
from server.audit import AuditEntry
from server.blobs import BlobKeyRefused, BlobStore
from server.events import JobEvents, wait_first
from server.jobs import STEP_MENTIONS, JobKind, JobState, fake_key_context, replan, scope_of
from server.keyring import Keyring
from server.queries import Q
from server.tenancy import enter_tenant

log = logging.getLogger(__name__)

# The database cannot be reached (or the connection broke, or it is restarting):
# worth waiting out.
_UNREACHABLE = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
)
# Blob deletions drained per query while finishing a job.
_BLOB_DRAIN_CHUNK = 500
# What the blob work queued behind the running batch may hold in memory: rewritten
# contents, and about _BLOB_KEY_BYTES a key. A whole tenant's deletions (keys only)
# queue without waiting; rewrites wait once this much is held.
_BLOB_BYTES_BEHIND = 64 * 1024 * 1024
_BLOB_KEY_BYTES = 100
# A tenant-wide erasure's batches are this many times the configured size.
_WHOLE_TENANT_ERASE_BATCHES = 4
# Steps one batch's transaction may cover (see run_batch): a single subject's job has
# 18 (data type, step, part) steps with nothing or little to do, which then take one
# transaction, not two.
_MAX_STEPS_PER_BATCH = 24


@dataclass(frozen=True)
class RetryPolicy:
    """When a failed batch is tried again, and when the job gives up."""

    max_attempts: int = 5
    base_delay: timedelta = timedelta(seconds=1)
    max_delay: timedelta = timedelta(minutes=5)

    def delay(self, attempt: int) -> timedelta:
        """Exponential backoff: base, 2*base, 4*base, ... capped at max_delay."""
        return min(self.base_delay * (1 << max(attempt - 1, 0)), self.max_delay)

    def gives_up(self, attempt: int) -> bool:
        return attempt >= self.max_attempts


class Outcome(Enum):
    MORE = "more"  # the job has more batches
    DONE = "done"  # the job reached a terminal state
    LOST = "lost"  # the lease is no longer ours (expired and taken, or job finished)
    RETRY = "retry"  # the batch failed; the job waits for its retry delay


@dataclass(frozen=True)
class WorkerConfig:
    batch_size: int
    lease: timedelta
    poll_interval: timedelta
    retry: RetryPolicy
    keyring: Keyring  # unwraps tenant keys and jobs' own keys for their fakes
    # How long a worker stays on one job before giving it back to the queue, so a
    # tenant-wide job shares the worker with the jobs that came in meanwhile.
    time_slice: timedelta = timedelta(seconds=5)
    # A job whose deadline is closer than this runs before all but children's.
    at_risk: timedelta = timedelta(hours=72)
    # Where phone numbers are read in a tenant without its own region.
    default_region: str = DEFAULT_REGION


def _ended_a_part(task: asyncpg.Record, part: str, result: BatchResult) -> bool:
    """The batch finished the part of the step it was in (or the step)."""
    return result.finished


def worker_name(index: int) -> str:
    """host:pid:index, unique among live workers."""
    return f"{socket.gethostname()}:{os.getpid()}:{index}"


def _safe_error(exc: BaseException) -> str:
    """Describe a failure without its message: driver messages can quote row values."""
    sqlstate = getattr(exc, "sqlstate", None)
    return f"{type(exc).__name__}" + (f" (SQLSTATE {sqlstate})" if sqlstate else "")


async def _failure_text(conn: Connection, exc: BaseException) -> str:
    """A failure as the job's error: a blob key the store refused names the row that
    holds it (a file by id; the batch rolled back, so the row is there again), never
    the key, which may hold anything; other failures as _safe_error."""
    if not isinstance(exc, BlobKeyRefused):
        return _safe_error(exc)
    try:
        async with conn.transaction():  # a savepoint: the failure is recorded all the same
            owner = await conn.fetchval(Q["blob_key_owner"], exc.tenant_id, exc.key)
    except Exception as lookup:
        log.warning("blob key owner not found", extra={"error": _safe_error(lookup)})
        owner = None
    return f"{owner or 'a blob in the outbox'}: blob key {exc.why}"


class Worker:
    """One async worker: leases jobs from the queue and runs their batches."""

    def __init__(
        self,
        name: str,
        pool: asyncpg.Pool,
        registry: Registry,
        blobs: BlobStore,
        events: JobEvents,
        config: WorkerConfig,
    ) -> None:
        self.name = name
        self._pool = pool
        self._registry = registry
        self._blobs = blobs
        self._events = events
        self._config = config
        self._lease = config.lease
        self._tools_cache: dict[uuid.UUID, Tools] = {}
        # Blob work of committed batches, running while the next batches do: its job,
        # the task, the memory it holds (see _BLOB_BYTES_BEHIND), whether it rewrites.
        self._blobs_behind: deque[tuple[uuid.UUID, asyncio.Task[None], int, bool]] = deque()
        self._blob_bytes_behind = 0

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
                except _UNREACHABLE as exc:
                    # The database is away: wait and try again, the queue is durable.
                    log.warning("cannot lease", extra={"error": _safe_error(exc)})
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
                        extra={"job_id": str(job_id), "error": _safe_error(exc)},
                    )
                    await wait_first(self._config.poll_interval, stop)
        finally:
            metrics.WORKERS_ACTIVE.dec()
            await self._catch_up_blobs()  # deletions left running after the last job
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
                    conn, self._registry, job_id, default_region=self._config.default_region
                )
        return job_id

    async def _run_job(self, job_id: uuid.UUID, stop: asyncio.Event) -> None:
        log.info("job leased", extra={"job_id": str(job_id), "worker": self.name})
        slice_ends = time.monotonic() + self._config.time_slice.total_seconds()
        try:
            while True:
                if stop.is_set():
                    await self._catch_up_blobs()
                    await self._release(job_id, used_slice=False)
                    return
                outcome = await self.run_batch(job_id)
                if outcome is not Outcome.MORE:
                    return
                if time.monotonic() >= slice_ends:
                    # Back to the queue: the next lease picks the most urgent job,
                    # which is this one again only if nothing else waits.
                    await self._catch_up_blobs(rewrites_only=True)
                    await self._release(job_id, used_slice=True)
                    return
        finally:
            # Rewrites are done before another worker may take the job (a blob
            # rewritten twice must end as the later batch wrote it). Deletions may
            # go on meanwhile: deleting twice is harmless, and the job ends only
            # once its outbox is empty (_finish drains what is left).
            await self._catch_up_blobs(rewrites_only=True)

    async def _release(self, job_id: uuid.UUID, *, used_slice: bool) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(Q["release_lease"], job_id, self.name, int(used_slice))
        log.info("job released", extra={"job_id": str(job_id), "worker": self.name})

    async def run_batch(self, job_id: uuid.UUID) -> Outcome:
        """Run the leased job's next batch in one transaction.

        A batch that finishes its step (or a part of it) is followed, in the same
        transaction, by the next ones while the transaction has done fewer than a
        batch of rows:
        steps with nothing to do (most of a single subject's) then cost no
        transaction of their own. Each such step runs in a savepoint; one that
        fails is rolled back alone and runs as the next batch, where a failure
        counts as usual."""
        started = time.perf_counter()
        done: list[tuple[asyncpg.Record, str, BatchResult]] = []
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                job = await conn.fetchrow(Q["lock_leased_job"], job_id, self.name, self._lease)
                if job is None:
                    return Outcome.LOST
                await enter_tenant(conn, job["tenant_id"])
                if job["cancel_requested"]:
                    await self._catch_up_blobs()
                    await self._finish(conn, job_id, job, JobState.CANCELLED)
                    return Outcome.DONE
                task = await conn.fetchrow(Q["next_task"], job_id)
                if task is None:
                    await self._catch_up_blobs()
                    await self._finish(conn, job_id, job, JobState.SUCCEEDED)
                    return Outcome.DONE
                done.append((task, *await self._step(conn, job_id, job, task)))
                while _ended_a_part(*done[-1]) and len(done) < _MAX_STEPS_PER_BATCH:
                    if sum(r.processed for _, _, r in done) >= self._config.batch_size:
                        break
                    task = await conn.fetchrow(Q["next_task"], job_id)
                    if task is None:
                        break  # the job ends in its own transaction, after this one's blobs
                    try:
                        async with conn.transaction():  # a savepoint
                            part, result = await self._step(conn, job_id, job, task)
                    except Exception as exc:  # runs again as the next batch, counted there
                        log.info(
                            "step deferred",
                            extra={"job_id": str(job_id), "error": _safe_error(exc)},
                        )
                        break
                    done.append((task, part, result))
                await conn.execute(Q["reset_attempts"], job_id)
                kind = job["kind"]
                for i, (task, part, result) in enumerate(done):
                    entry = AuditEntry(
                        tenant_id=job["tenant_id"],
                        actor=self.name,
                        action=f"{kind}.{task['step']}",
                        job_id=job_id,
                        subject_hash=job["subject_hash"],
                        data_type=task["data_type"],
                        details={
                            "batch": task["batches"] + 1,
                            "processed": result.processed,
                            "part": part,
                            "checkpoint": result.checkpoint,
                            "finished": result.finished,
                            **(
                                {"needs_review": [file_id for file_id, _ in result.needs_review]}
                                if result.needs_review
                                else {}
                            ),
                            # Gone from the blob store already: recorded, not an error.
                            **(
                                {"missing_files": list(result.missing_files)}
                                if result.missing_files
                                else {}
                            ),
                        },
                    )
                    # Last, and the last one with the notification: the chain head is
                    # locked from the first append to the commit.
                    if i + 1 < len(done):
                        await audit.append(conn, entry)
                    else:
                        await audit.append_and_notify(conn, entry, job_id)
        except Exception as exc:  # any failure: retried, and the job fails after N tries
            try:
                return await self._record_failure(job_id, exc)
            except _UNREACHABLE as again:
                # Not even the failure could be recorded: the lease runs out and the
                # job is taken again, from its last committed batch.
                log.warning(
                    "failure not recorded",
                    extra={"job_id": str(job_id), "error": _safe_error(again)},
                )
                return Outcome.LOST
        tenant_id = job["tenant_id"]
        elapsed = (time.perf_counter() - started) / len(done)
        for task, _, result in done:
            labels = {"kind": kind, "data_type": task["data_type"]}
            metrics.BATCHES.labels(**labels).inc()
            metrics.ROWS.labels(**labels).inc(result.processed)
            metrics.BATCH_SECONDS.labels(**labels).observe(elapsed)
            if result.needs_review:
                metrics.FILES_NEEDING_REVIEW.labels(**labels).inc(len(result.needs_review))
        metrics.heartbeat()
        # After the commit: the rows are gone or anonymized, so their blobs follow,
        # while the next batch runs (a blob store's time is mostly the disk's or
        # the network's). A crash or a failure leaves the outbox rows, which
        # _drain_blobs clears before the job can end.
        rewrites = [w for _, _, r in done for w in r.blob_rewrites]
        deletions = [k for _, _, r in done for k in r.blob_keys]
        if rewrites or deletions:
            await self._queue_blob_work(job_id, tenant_id, rewrites, deletions)
        return Outcome.MORE

    async def _queue_blob_work(
        self,
        job_id: uuid.UUID,
        tenant_id: str,
        rewrites: Sequence[tuple[str, bytes]],
        deletions: Sequence[str],
    ) -> None:
        """Start a batch's blob work after the work queued before it (in order: a blob
        rewritten twice ends as the later batch wrote it). Waits only while the work
        queued holds more than _BLOB_BYTES_BEHIND."""
        previous = self._blobs_behind[-1][1] if self._blobs_behind else None

        async def in_order() -> None:
            if previous is not None:
                await asyncio.wait([previous])  # its failure is logged where it is awaited
            await self._blob_work(job_id, tenant_id, rewrites, deletions)

        held = sum(len(data) for _, data in rewrites)
        held += _BLOB_KEY_BYTES * (len(rewrites) + len(deletions))
        task = asyncio.create_task(in_order())
        self._blobs_behind.append((job_id, task, held, bool(rewrites)))
        self._blob_bytes_behind += held
        while self._blobs_behind and self._blob_bytes_behind > _BLOB_BYTES_BEHIND:
            await self._settle_oldest_blobs()

    async def _catch_up_blobs(self, *, rewrites_only: bool = False) -> None:
        """Wait for the blob work queued (before a job ends), or for the queued work up
        to its last rewrite (before this worker lets go of a job): each runs after
        the one before it."""
        if rewrites_only:
            wanted = [i for i, entry in enumerate(self._blobs_behind) if entry[3]]
            count = wanted[-1] + 1 if wanted else 0
        else:
            count = len(self._blobs_behind)
        for _ in range(count):
            await self._settle_oldest_blobs()

    async def _settle_oldest_blobs(self) -> None:
        job_id, task, held, _ = self._blobs_behind.popleft()
        self._blob_bytes_behind -= held
        try:
            await task
        except Exception as exc:
            # Whatever the store raised: the outbox rows stay, and _drain_blobs meets
            # the error again inside a batch, where it counts as an attempt (an error
            # that escaped here left the job RUNNING, re-leased forever).
            log.warning(
                "blob work deferred", extra={"job_id": str(job_id), "error": _safe_error(exc)}
            )

    async def _step(
        self, conn: Connection, job_id: uuid.UUID, job: asyncpg.Record, task: asyncpg.Record
    ) -> tuple[str, BatchResult]:
        """One batch of one task: the data change, its checkpoint and its blob outbox rows."""
        part, result, at = await self._apply(conn, job_id, job, task)
        await conn.execute(
            Q["advance_task"],
            job_id,
            task["position"],
            at.part,
            at.checkpoint,
            result.processed,
            at.finished,
            list(at.parts_done),
        )
        tenant_id = job["tenant_id"]
        # A key the store would refuse (another tenant's, or leaving the blob
        # directory) fails the batch here, while the row that holds it can still be
        # named; queued, it would fail after the commit, with the row gone.
        for key in result.blob_keys:
            self._blobs.check(tenant_id, key)
        for key, _ in result.blob_rewrites:
            self._blobs.check(tenant_id, key)
        if result.blob_keys:
            await conn.execute(Q["queue_blob_deletion"], tenant_id, list(result.blob_keys), job_id)
        if result.blob_rewrites:
            keys, contents = zip(*result.blob_rewrites, strict=True)
            await conn.execute(
                Q["queue_blob_rewrite"], tenant_id, list(keys), job_id, list(contents)
            )
        if result.needs_review:
            ids, reasons = zip(*result.needs_review, strict=True)
            await conn.execute(
                Q["insert_reviews"],
                job_id,
                tenant_id,
                list(ids),
                [task["data_type"]] * len(ids),
                list(reasons),
            )
        return part, result

    async def _apply(
        self, conn: Connection, job_id: uuid.UUID, job: asyncpg.Record, task: asyncpg.Record
    ) -> tuple[str, BatchResult, Position]:
        anonymizer = self._registry.get(task["data_type"])
        limit = self._config.batch_size
        if job["whole_tenant"] and job["kind"] == JobKind.ERASE.value:
            # Plain deletes of every row: a batch's fixed cost (lease, checkpoint,
            # audit entry) is worth spreading over more of them.
            limit *= _WHOLE_TENANT_ERASE_BATCHES
        at = Position(task["part"], task["checkpoint"], tuple(task["parts_done"]))
        operation: Operation = (
            "mentions"
            if task["step"] == STEP_MENTIONS
            else "anonymize"
            if job["kind"] == JobKind.ANONYMIZE.value
            else "erase"
        )
        tools = await self._tools(conn, job_id, job)
        batch, result, after = await steps.run_batch(
            anonymizer, operation, conn, scope_of(job), at, limit, tools
        )
        return batch.part, result, after

    async def _tools(self, conn: Connection, job_id: uuid.UUID, job: asyncpg.Record) -> Tools:
        """The job's tools, built once per job: a tenant's identifiers can be many."""
        cached = self._tools_cache.get(job_id)
        if cached is not None:
            return cached
        row = await conn.fetchrow(Q["job_identifiers_and_key"], job_id)
        tenant_id: str = job["tenant_id"]
        keyring = self._config.keyring
        key = await tenant_keys.tenant_key(conn, tenant_id, keyring)
        fake_key = key  # fakes consistent across jobs: the caller asked for them
        if row is not None and row["fake_key"] is not None:
            fake_key = keyring.unwrap(bytes(row["fake_key"]), fake_key_context(job_id))

        async def read_blobs(keys: Sequence[str]) -> list[bytes | None]:
            # The job's tenant with every key: the store reads only that tenant's blobs.
            return await asyncio.to_thread(self._blobs.get_many, tenant_id, keys)

        tools = Tools.for_job(
            anonymize=job["kind"] == JobKind.ANONYMIZE.value,
            identifiers=Identifiers.from_json(row["identifiers"]) if row else Identifiers(),
            whole_tenant=job["whole_tenant"],
            fakes=Fakes(fake_key),
            read_blobs=read_blobs,
            tenant_key=key,
        )
        self._tools_cache = {job_id: tools}  # one job at a time per worker
        return tools

    async def _finish(
        self, conn: Connection, job_id: uuid.UUID, job: asyncpg.Record, state: JobState
    ) -> None:
        # Blob work of committed batches must be done before the job ends, whatever
        # its end: the rows are gone, their blobs must not stay behind.
        await self._drain_blobs(conn, job_id, job["tenant_id"])
        tasks = await conn.fetch(Q["job_tasks"], job_id)
        done = {t["data_type"]: t["done"] for t in tasks}
        error = ""
        if state is JobState.CANCELLED:
            error = f"cancelled at a batch boundary after {sum(done.values())} rows: {done}"
        await conn.fetchval(Q["finish_job"], job_id, state.value, error)
        await conn.execute(Q["forget_identifiers"], job_id)
        self._tools_cache.pop(job_id, None)
        details: dict[str, object] = {"done": done}
        shred = state is JobState.SUCCEEDED and self._erased_everything(job, tasks)
        if shred:
            details["tenant_key_destroyed"] = True
        await audit.append(
            conn,
            AuditEntry(
                tenant_id=job["tenant_id"],
                actor=self.name,
                action=f"job.{state.value}",
                job_id=job_id,
                subject_hash=job["subject_hash"],
                details=details,
            ),
        )
        if shred:
            # Last, in the transaction that ends the job: the audit entries and holds
            # keyed with it can no longer be linked to anyone (crypto-shredding).
            await tenant_keys.destroy(conn, job["tenant_id"])
        await conn.execute(Q["notify_job"], str(job_id))
        metrics.JOBS_FINISHED.labels(kind=job["kind"], state=state.value).inc()
        log.info("job finished", extra={"job_id": str(job_id), "state": state.value})

    def _erased_everything(self, job: asyncpg.Record, tasks: Sequence[asyncpg.Record]) -> bool:
        """A whole tenant erased: every data type, no period (retention's are limited)."""
        return (
            job["kind"] == JobKind.ERASE.value
            and job["whole_tenant"]
            and job["records_after"] is None
            and job["records_before"] is None
            and {t["data_type"] for t in tasks} >= {a.data_type for a in self._registry.ordered()}
        )

    async def _drain_blobs(self, conn: Connection, job_id: uuid.UUID, tenant_id: str) -> None:
        """Finish the blob work a crash (or a failed write) left in the outboxes."""
        while rows := await conn.fetch(Q["pending_blob_rewrites"], job_id, _BLOB_DRAIN_CHUNK):
            rewrites = [(r["blob_key"], bytes(r["data"])) for r in rows]
            await self._blob_work(job_id, tenant_id, rewrites, (), conn)
        while rows := await conn.fetch(Q["pending_blob_deletions"], job_id, _BLOB_DRAIN_CHUNK):
            await self._blob_work(job_id, tenant_id, (), [r["blob_key"] for r in rows], conn)

    async def _blob_work(
        self,
        job_id: uuid.UUID,
        tenant_id: str,
        rewrites: Sequence[tuple[str, bytes]],
        deletions: Sequence[str],
        conn: Connection | None = None,
    ) -> None:
        """Write rewritten blobs and delete removed ones, then forget their outbox rows.

        Doing either twice is harmless, so a replay after a crash is safe.
        """
        if not (rewrites or deletions):
            return

        def work() -> int:
            self._blobs.put_many(tenant_id, rewrites)
            return self._blobs.delete_many(tenant_id, deletions)

        gone = await asyncio.to_thread(work)
        if gone:
            # Deleting what is gone is what was wanted: recorded, not an error (also
            # what a replay after a crash finds).
            log.info("blobs already gone", extra={"job_id": str(job_id), "blobs": gone})

        async def forget(c: Connection, deletion_query: str) -> None:
            if rewrites:
                await c.execute(Q["forget_blob_rewrite"], tenant_id, [key for key, _ in rewrites])
            if deletions:
                await c.execute(Q[deletion_query], tenant_id, list(deletions))

        if conn is not None:  # a job's end, draining its outbox
            await forget(conn, "forget_blob_deletion")
        else:  # behind the batches, maybe while another worker ends the job
            async with self._pool.acquire() as c:
                await forget(c, "forget_blob_deletion_behind")

    async def _record_failure(self, job_id: uuid.UUID, exc: BaseException) -> Outcome:
        log.warning("batch failed", extra={"job_id": str(job_id), "error": _safe_error(exc)})
        metrics.BATCH_FAILURES.inc()
        retry = self._config.retry
        async with self._pool.acquire() as conn, conn.transaction():
            error = await _failure_text(conn, exc)
            row = await conn.fetchrow(Q["lock_failed_job"], job_id, self.name)
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
                    await self._drain_blobs(conn, job_id, row["tenant_id"])
            except Exception as again:
                # The store is failing, or refuses a key: the outbox keeps those rows,
                # and the job ends FAILED all the same (raised here, the failure was
                # rolled back and the job re-leased forever).
                log.warning(
                    "blob work deferred",
                    extra={"job_id": str(job_id), "error": _safe_error(again)},
                )
            message = f"gave up after {attempts} failed attempts; last error: {error}"
            await conn.fetchval(Q["finish_job"], job_id, JobState.FAILED.value, message)
            await conn.execute(Q["forget_identifiers"], job_id)
            self._tools_cache.pop(job_id, None)
            await audit.append(
                conn,
                AuditEntry(
                    tenant_id=row["tenant_id"],
                    actor=self.name,
                    action="job.failed",
                    job_id=job_id,
                    subject_hash=row["subject_hash"],
                    details={"attempts": attempts, "error": error},
                ),
            )
            await conn.execute(Q["notify_job"], str(job_id))
            return Outcome.DONE
