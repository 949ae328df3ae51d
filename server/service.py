"""PrivacyService: validate, then hand the work to jobs; never do the work in the RPC."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, aclosing
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import grpc

from anonymizers.registry import Registry
from atomicrm.privacy.v1 import privacy_pb2 as pb
from atomicrm.privacy.v1 import privacy_pb2_grpc
from db.connection import Connection
from server import (
    audit,
    auth,
    checkpoints,
    convert,
    export,
    holds,
    job_model,
    job_plan,
    jobs,
    lookup,
    metrics,
    ratelimit,
    submission,
    suppression_list,
    validation,
)
from server.blobs import BlobStore
from server.config import DEFAULT_DB_TIMEOUT, DEFAULT_PHONE_REGION
from server.convert import job_to_proto
from server.credentials import Caller, Scope
from server.database import bounded_connection
from server.errors import NotFound, RateLimited
from server.events import JobEvents, wait_first
from server.job_model import JobKind
from server.keyring import Keyring
from server.ratelimit import NO_RATE_LIMIT, RateLimit
from server.subjects import SubjectKind
from server.tenancy import require_known_tenant

# File parts per Export message: enough to amortize a message, small enough to
# stream (records come in blocks of anonymizers.records.BLOCK_BYTES).
EXPORT_BATCH_PARTS = 500
EXPORT_BATCH_BYTES = 256 * 1024
# WatchJob re-reads the job at least this often, even without a notification.
WATCH_POLL = timedelta(seconds=1)

Context = grpc.aio.ServicerContext[Any, Any]


@dataclass(frozen=True)
class AuditCheckpoints:
    """What VerifyAuditLog checks the audit chain against: the checkpoint file and the
    key that signs its checkpoints."""

    log: checkpoints.CheckpointLog
    signing_key: Path


class PrivacyService(privacy_pb2_grpc.PrivacyServiceServicer):
    def __init__(
        self,
        pool: asyncpg.Pool,
        registry: Registry,
        events: JobEvents,
        deadline: timedelta,
        blobs: BlobStore,
        *,
        keyring: Keyring,
        acquire_timeout: timedelta = DEFAULT_DB_TIMEOUT,
        rate_limit: RateLimit = NO_RATE_LIMIT,
        default_region: str = DEFAULT_PHONE_REGION,
        audit_checkpoints: AuditCheckpoints | None = None,
    ) -> None:
        self._default_region = default_region
        self._keyring = keyring
        # VerifyAuditLog checks the chain against these (none given: the chain alone).
        self._audit_checkpoints = audit_checkpoints
        self._pool = pool
        self._rate_limit = rate_limit
        self._acquire_timeout = acquire_timeout
        self._blobs = blobs
        self._registry = registry
        self._events = events
        self._deadline = deadline

    def _connection(self) -> AbstractAsyncContextManager[Connection]:
        return bounded_connection(self._pool, self._acquire_timeout)

    async def _limit(
        self, conn: Connection, caller: Caller, tenant_id: str, operation: str
    ) -> None:
        # After validation and the caller's checks (a refused request costs no
        # token), before the call's own database work. Idempotent retries count
        # too: telling them apart needs a query.
        wait = await ratelimit.take(conn, self._rate_limit, tenant_id, caller.name, operation)
        if wait > 0:
            raise RateLimited(operation, wait)

    async def _job_tenant(self, conn: Connection, caller: Caller, job_id: uuid.UUID) -> None:
        """NotFound, as for a job that does not exist, when the job is another
        tenant's: a caller learns nothing of tenants it may not see."""
        tenant = await jobs.tenant_of(conn, job_id)
        if tenant is None or not caller.may_see(tenant):
            raise NotFound(f"no job with id {job_id}")

    async def _submit(
        self, request: pb.EraseRequest | pb.AnonymizeRequest, kind: JobKind
    ) -> pb.Job:
        caller = auth.current()
        job_request = validation.job_request(
            request, kind, self._registry, caller.name, max_deadline=self._deadline
        )
        auth.require_tenant(caller, job_request.tenant_id)
        if kind is JobKind.ERASE and job_request.subject.kind is SubjectKind.WHOLE_TENANT:
            auth.require(Scope.ERASE_TENANT)
        async with self._connection() as conn:
            await self._limit(conn, caller, job_request.tenant_id, kind.value)
            job = await submission.submit(
                conn,
                self._registry,
                job_request,
                deadline=self._deadline,
                default_region=self._default_region,
                keyring=self._keyring,
            )
        metrics.JOBS_SUBMITTED.labels(kind=kind.value, dry_run=str(job.dry_run).lower()).inc()
        return job_to_proto(job)

    async def Erase(self, request: pb.EraseRequest, context: Context) -> pb.Job:
        return await self._submit(request, JobKind.ERASE)

    async def Anonymize(self, request: pb.AnonymizeRequest, context: Context) -> pb.Job:
        return await self._submit(request, JobKind.ANONYMIZE)

    async def Export(
        self, request: pb.ExportRequest, context: Context
    ) -> AsyncIterator[pb.ExportChunk]:
        caller = auth.current()
        query = validation.export_request(request, self._registry)
        auth.require_tenant(caller, query.tenant_id)
        async with self._connection() as conn:
            await self._limit(conn, caller, query.tenant_id, "export")
            region = await job_plan.tenant_region(conn, query.tenant_id, self._default_region)
        subject = query.subject.in_region(region)
        packer = convert.ExportPacker(EXPORT_BATCH_PARTS, EXPORT_BATCH_BYTES)
        # Closed, not dropped, when the caller goes away: the export audits its end
        # at once, on connections it takes and gives back itself (server/export.py).
        async with aclosing(
            export.export(
                self._connection,
                self._registry,
                self._blobs,
                query.tenant_id,
                subject,
                data_types=query.data_types,
                region=region,
                actor=caller.name,
                keyring=self._keyring,
            )
        ) as items:
            async for item in items:
                if isinstance(item, export.Manifest):
                    for message in packer.flush():
                        yield message
                    yield convert.export_manifest(item)
                else:
                    for message in packer.add(item):
                        yield message

    async def GetJob(self, request: pb.GetJobRequest, context: Context) -> pb.Job:
        caller = auth.current()
        job_id = validation.job_id(request.job_id)
        async with self._connection() as conn:
            await self._job_tenant(conn, caller, job_id)
            return job_to_proto(await job_model.get(conn, job_id))

    async def ListJobs(self, request: pb.ListJobsRequest, context: Context) -> pb.ListJobsResponse:
        caller = auth.current()
        tenant: str | None = None
        if request.all_tenants:
            validation.all_tenants(request.tenant_id)
        else:
            tenant = validation.tenant_id(request.tenant_id)
        state = validation.state(request.state)
        kind = validation.kind(request.kind)
        size = validation.page_size(request.page_size)
        if tenant is None:
            auth.require_every_tenant(caller)
        else:
            auth.require_tenant(caller, tenant)
        async with self._connection() as conn:
            page, token = await jobs.list_jobs(
                conn,
                tenant,
                state=state,
                kind=kind,
                page_size=size,
                page_token=request.page_token,
                keyring=self._keyring,
            )
        return pb.ListJobsResponse(jobs=[job_to_proto(j) for j in page], next_page_token=token)

    async def WatchJob(
        self, request: pb.WatchJobRequest, context: Context
    ) -> AsyncIterator[pb.Job]:
        caller = auth.current()
        job_id = validation.job_id(request.job_id)
        async with self._connection() as conn:
            await self._job_tenant(conn, caller, job_id)
        last: pb.Job | None = None
        with self._events.watch(str(job_id)) as changed:
            while True:
                changed.clear()
                async with self._connection() as conn:
                    job = await job_model.get(conn, job_id)
                message = job_to_proto(job)
                if message != last:
                    yield message
                    last = message
                if job.state.terminal:
                    return
                await wait_first(WATCH_POLL, changed)

    async def CancelJob(self, request: pb.CancelJobRequest, context: Context) -> pb.Job:
        caller = auth.current()
        job_id = validation.job_id(request.job_id)
        async with self._connection() as conn:
            await self._job_tenant(conn, caller, job_id)
            return job_to_proto(await jobs.cancel(conn, job_id, caller.name))

    async def SetLegalHold(self, request: pb.SetLegalHoldRequest, context: Context) -> pb.LegalHold:
        caller = auth.current()
        hold = validation.hold_request(request)
        auth.require_tenant(caller, hold.tenant_id)
        async with self._connection() as conn:
            region = await job_plan.tenant_region(conn, hold.tenant_id, self._default_region)
            held = await holds.set_hold(
                conn,
                hold.tenant_id,
                hold.subject,
                hold.reason,
                caller.name,
                region=region,
                keyring=self._keyring,
            )
        return convert.hold_to_proto(held)

    async def ReleaseLegalHold(
        self, request: pb.ReleaseLegalHoldRequest, context: Context
    ) -> pb.LegalHold:
        caller = auth.current()
        hold_id = validation.hold_id(request.hold_id)
        reason = validation.reason(request.reason)
        async with self._connection() as conn:
            tenant = await holds.tenant_of(conn, hold_id)
            if tenant is None or not caller.may_see(tenant):
                raise NotFound(f"no legal hold with id {hold_id}")
            released = await holds.release_hold(conn, hold_id, reason, caller.name)
        return convert.hold_to_proto(released)

    async def ListLegalHolds(
        self, request: pb.ListLegalHoldsRequest, context: Context
    ) -> pb.ListLegalHoldsResponse:
        tenant = validation.tenant_id(request.tenant_id)
        auth.require_tenant(auth.current(), tenant)
        async with self._connection() as conn:
            await require_known_tenant(conn, tenant)
            found = await holds.list_holds(conn, tenant, include_released=request.include_released)
        return pb.ListLegalHoldsResponse(holds=[convert.hold_to_proto(h) for h in found])

    async def VerifyAuditLog(
        self, request: pb.VerifyAuditLogRequest, context: Context
    ) -> pb.VerifyAuditLogResponse:
        tenant = validation.tenant_id(request.tenant_id)
        auth.require_tenant(auth.current(), tenant)
        async with self._connection() as conn:
            await require_known_tenant(conn, tenant)
            if self._audit_checkpoints is None:
                verdict = await audit.verify(conn, tenant)
            else:
                verdict = await checkpoints.verify(
                    conn, tenant, self._audit_checkpoints.log, self._audit_checkpoints.signing_key
                )
        missing_from, missing_to = verdict.missing or (0, 0)
        return pb.VerifyAuditLogResponse(
            ok=verdict.intact,
            entries_checked=verdict.entries,
            first_bad_seq=verdict.first_bad_seq or 0,
            problem=verdict.problem,
            checkpoint_seq=verdict.checkpoint_seq,
            missing_from=missing_from,
            missing_to=missing_to,
            rejected_checkpoints=verdict.rejected_checkpoints,
        )

    async def CheckSuppression(
        self, request: pb.CheckSuppressionRequest, context: Context
    ) -> pb.CheckSuppressionResponse:
        # A high-rate read (every import or sync asks): not rate-limited.
        tenant = validation.tenant_id(request.tenant_id)
        identifiers = validation.identifiers(request.identifiers)
        auth.require_tenant(auth.current(), tenant)
        async with self._connection() as conn:
            checked = await suppression_list.check(
                conn,
                tenant,
                identifiers,
                keyring=self._keyring,
                default_region=self._default_region,
            )
        metrics.SUPPRESSION_CHECKS.inc(len(identifiers))
        metrics.SUPPRESSION_HITS.inc(sum(checked.suppressed))
        return pb.CheckSuppressionResponse(suppressed=checked.suppressed, invalid=checked.invalid)

    async def Suppress(self, request: pb.SuppressRequest, context: Context) -> pb.SuppressResponse:
        caller = auth.current()
        tenant = validation.tenant_id(request.tenant_id)
        identifiers = validation.identifiers(request.identifiers, required=True)
        code = validation.reason_code(request.reason_code)
        auth.require_tenant(caller, tenant)
        async with self._connection() as conn:
            await self._limit(conn, caller, tenant, "suppress")
            added = await suppression_list.suppress(
                conn,
                tenant,
                identifiers,
                reason_code=code,
                actor=caller.name,
                keyring=self._keyring,
                default_region=self._default_region,
            )
        return pb.SuppressResponse(added=added)

    async def Unsuppress(
        self, request: pb.UnsuppressRequest, context: Context
    ) -> pb.UnsuppressResponse:
        caller = auth.current()
        tenant = validation.tenant_id(request.tenant_id)
        identifiers = validation.identifiers(request.identifiers, required=True)
        code = validation.reason_code(request.reason_code, required=True)
        auth.require_tenant(caller, tenant)
        async with self._connection() as conn:
            await self._limit(conn, caller, tenant, "unsuppress")
            removed = await suppression_list.unsuppress(
                conn,
                tenant,
                identifiers,
                reason_code=code,
                actor=caller.name,
                keyring=self._keyring,
                default_region=self._default_region,
            )
        return pb.UnsuppressResponse(removed=removed)

    async def ListSuppressions(
        self, request: pb.ListSuppressionsRequest, context: Context
    ) -> pb.ListSuppressionsResponse:
        tenant = validation.tenant_id(request.tenant_id)
        size = validation.suppressions_page_size(request.page_size)
        auth.require_tenant(auth.current(), tenant)
        async with self._connection() as conn:
            page, token = await suppression_list.listing(
                conn,
                tenant,
                page_size=size,
                page_token=request.page_token,
                keyring=self._keyring,
                default_region=self._default_region,
            )
        return pb.ListSuppressionsResponse(
            suppressions=[convert.suppression_to_proto(e) for e in page], next_page_token=token
        )

    async def FindSubjects(
        self, request: pb.FindSubjectsRequest, context: Context
    ) -> pb.FindSubjectsResponse:
        caller = auth.current()
        tenant, subject = validation.lookup_request(request)
        auth.require_tenant(caller, tenant)
        # A lookup tells whether a person is in the CRM: limited like an export.
        async with self._connection() as conn:
            await self._limit(conn, caller, tenant, "lookup")
            region = await job_plan.tenant_region(conn, tenant, self._default_region)
            found = await lookup.find(
                conn, tenant, subject, region=region, actor=caller.name, keyring=self._keyring
            )
        return pb.FindSubjectsResponse(contact_ids=found.contact_ids, user_ids=found.user_ids)
