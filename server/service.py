"""PrivacyService: validate, then hand the work to jobs; never do the work in the RPC."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import asyncpg
import grpc

from anonymizers.base import Connection
from anonymizers.registry import Registry
from atomicrm.privacy.v1 import privacy_pb2 as pb
from atomicrm.privacy.v1 import privacy_pb2_grpc
from server import audit, convert, export, holds, jobs, metrics, subjects, validation
from server.audit import AuditEntry
from server.blobs import BlobStore
from server.config import DEFAULT_DB_TIMEOUT
from server.convert import job_to_proto
from server.errors import DatabaseUnavailable, RateLimited
from server.events import JobEvents, wait_first
from server.jobs import JobKind
from server.ratelimit import NO_RATE_LIMIT, RateLimit, RateLimiter
from server.subjects import Subject

# Until callers authenticate, the audit log records requests as from this caller.
ANONYMOUS_CALLER = "unauthenticated"
# Records per Export message: enough to amortize a message, small enough to stream.
EXPORT_BATCH_RECORDS = 500
EXPORT_BATCH_BYTES = 256 * 1024
# WatchJob re-reads the job at least this often, even without a notification.
WATCH_POLL = timedelta(seconds=1)

Context = grpc.aio.ServicerContext[Any, Any]


class PrivacyService(privacy_pb2_grpc.PrivacyServiceServicer):
    def __init__(
        self,
        pool: asyncpg.Pool,
        registry: Registry,
        events: JobEvents,
        deadline: timedelta,
        blobs: BlobStore,
        *,
        acquire_timeout: timedelta = DEFAULT_DB_TIMEOUT,
        rate_limit: RateLimit = NO_RATE_LIMIT,
    ) -> None:
        self._pool = pool
        self._limiter = RateLimiter(rate_limit)
        self._acquire_timeout = acquire_timeout
        self._blobs = blobs
        self._registry = registry
        self._events = events
        self._deadline = deadline

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Connection]:
        """A pooled connection within the acquire timeout, else UNAVAILABLE: a burst of
        callers or a database that is away makes RPCs fail fast, never queue forever."""
        seconds = self._acquire_timeout.total_seconds()
        try:
            conn = await self._pool.acquire(timeout=seconds)
        except TimeoutError as exc:
            raise DatabaseUnavailable(
                f"no database connection within {seconds:g}s (service busy or database "
                "unreachable); retry later"
            ) from exc
        try:
            yield conn
        finally:
            await self._pool.release(conn)

    def _limit(self, caller: str, tenant_id: str, operation: str) -> None:
        # After validation (a refused request costs no token), before any database
        # work. Idempotent retries count too: telling them apart needs a query.
        wait = self._limiter.take(caller, tenant_id, operation)
        if wait > 0:
            raise RateLimited(operation, wait)

    async def _submit(
        self, request: pb.EraseRequest | pb.AnonymizeRequest, kind: JobKind
    ) -> pb.Job:
        job_request = validation.job_request(
            request, kind, self._registry, ANONYMOUS_CALLER, max_deadline=self._deadline
        )
        self._limit(ANONYMOUS_CALLER, job_request.tenant_id, kind.value)
        async with self._connection() as conn:
            job = await jobs.submit(conn, self._registry, job_request, deadline=self._deadline)
        metrics.JOBS_SUBMITTED.labels(kind=kind.value, dry_run=str(job.dry_run).lower()).inc()
        return job_to_proto(job)

    async def Erase(self, request: pb.EraseRequest, context: Context) -> pb.Job:
        return await self._submit(request, JobKind.ERASE)

    async def Anonymize(self, request: pb.AnonymizeRequest, context: Context) -> pb.Job:
        return await self._submit(request, JobKind.ANONYMIZE)

    async def Export(
        self, request: pb.ExportRequest, context: Context
    ) -> AsyncIterator[pb.ExportChunk]:
        query = validation.export_request(request, self._registry)
        self._limit(ANONYMOUS_CALLER, query.tenant_id, "export")
        async with self._connection() as conn:
            items = export.export(
                conn,
                self._registry,
                self._blobs,
                query.tenant_id,
                query.subject,
                query.data_types,
            )
            batch: list[export.Record] = []
            size = 0
            async for item in items:
                if isinstance(item, export.Record):
                    # Records travel many to a message: per-message cost dominates otherwise.
                    batch.append(item)
                    size += len(item.json)
                    if len(batch) >= EXPORT_BATCH_RECORDS or size >= EXPORT_BATCH_BYTES:
                        yield convert.export_records(batch)
                        batch, size = [], 0
                    continue
                if batch:
                    yield convert.export_records(batch)
                    batch, size = [], 0
                if isinstance(item, export.Manifest):
                    # Audited before the manifest goes out: a caller that has the
                    # whole export has an audit entry for it.
                    await audit_export(conn, query.tenant_id, query.subject, item)
                yield convert.export_chunk(item)

    async def GetJob(self, request: pb.GetJobRequest, context: Context) -> pb.Job:
        job_id = validation.job_id(request.job_id)
        async with self._connection() as conn:
            return job_to_proto(await jobs.get(conn, job_id))

    async def ListJobs(self, request: pb.ListJobsRequest, context: Context) -> pb.ListJobsResponse:
        tenant = validation.tenant_id(request.tenant_id)
        state = validation.state(request.state)
        kind = validation.kind(request.kind)
        size = validation.page_size(request.page_size)
        async with self._connection() as conn:
            page, token = await jobs.list_jobs(
                conn,
                tenant,
                state=state,
                kind=kind,
                page_size=size,
                page_token=request.page_token,
            )
        return pb.ListJobsResponse(jobs=[job_to_proto(j) for j in page], next_page_token=token)

    async def WatchJob(
        self, request: pb.WatchJobRequest, context: Context
    ) -> AsyncIterator[pb.Job]:
        job_id = validation.job_id(request.job_id)
        last: pb.Job | None = None
        with self._events.watch(str(job_id)) as changed:
            while True:
                changed.clear()
                async with self._connection() as conn:
                    job = await jobs.get(conn, job_id)
                message = job_to_proto(job)
                if message != last:
                    yield message
                    last = message
                if job.state.terminal:
                    return
                await wait_first(WATCH_POLL, changed)

    async def CancelJob(self, request: pb.CancelJobRequest, context: Context) -> pb.Job:
        job_id = validation.job_id(request.job_id)
        async with self._connection() as conn:
            return job_to_proto(await jobs.cancel(conn, job_id, ANONYMOUS_CALLER))

    async def SetLegalHold(self, request: pb.SetLegalHoldRequest, context: Context) -> pb.LegalHold:
        hold = validation.hold_request(request)
        async with self._connection() as conn:
            held = await holds.set_hold(
                conn, hold.tenant_id, hold.subject, hold.reason, ANONYMOUS_CALLER
            )
        return convert.hold_to_proto(held)

    async def ReleaseLegalHold(
        self, request: pb.ReleaseLegalHoldRequest, context: Context
    ) -> pb.LegalHold:
        hold_id = validation.hold_id(request.hold_id)
        reason = validation.reason(request.reason)
        async with self._connection() as conn:
            released = await holds.release_hold(conn, hold_id, reason, ANONYMOUS_CALLER)
        return convert.hold_to_proto(released)

    async def ListLegalHolds(
        self, request: pb.ListLegalHoldsRequest, context: Context
    ) -> pb.ListLegalHoldsResponse:
        tenant = validation.tenant_id(request.tenant_id)
        async with self._connection() as conn:
            found = await holds.list_holds(conn, tenant, include_released=request.include_released)
        return pb.ListLegalHoldsResponse(holds=[convert.hold_to_proto(h) for h in found])

    async def VerifyAuditLog(
        self, request: pb.VerifyAuditLogRequest, context: Context
    ) -> pb.VerifyAuditLogResponse:
        tenant = validation.tenant_id(request.tenant_id)
        async with self._connection() as conn:
            verdict = await audit.verify(conn, tenant)
        return pb.VerifyAuditLogResponse(
            ok=verdict.intact,
            entries_checked=verdict.entries,
            first_bad_seq=verdict.first_bad_seq or 0,
            problem=verdict.problem,
        )


async def audit_export(
    conn: Connection, tenant_id: str, subject: Subject, manifest: export.Manifest
) -> None:
    """One audit entry per completed export: who, whose (keyed hash), how much."""
    async with conn.transaction():
        key = await subjects.tenant_key(conn, tenant_id)
        await audit.append(
            conn,
            AuditEntry(
                tenant_id=tenant_id,
                actor=ANONYMOUS_CALLER,
                action="export.completed",
                subject_hash=subjects.subject_hash(key, subject),
                details={
                    "records": manifest.record_counts,
                    "files": manifest.files,
                    "bytes": manifest.file_bytes,
                },
            ),
        )
