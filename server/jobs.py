"""Jobs: listing and cancelling them, and finding a job's tenant.

What a job is lives in job_model (with `get`), accepting one in submission, what it
covers in job_plan, and ending one (whatever the state) in job_end.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

import asyncpg

from db.connection import Connection
from server import audit, pagetokens, tenant_keys
from server.audit import AuditEntry
from server.errors import FailedPrecondition
from server.job_end import JobEnd, end_job
from server.job_model import (
    Job,
    JobKind,
    JobState,
    get,
    read_job,
)
from server.keyring import Keyring
from server.queries import Q
from server.tenancy import require_known_tenant

# What a listing of every tenant's jobs is named by in its page tokens: no tenant id
# can be it (server.validation).
EVERY_TENANT = "*"


async def tenant_of(conn: Connection, job_id: uuid.UUID) -> str | None:
    """The tenant a job belongs to, or None when there is no such job."""
    tenant: str | None = await conn.fetchval(Q["job_tenant"], job_id)
    return tenant


async def list_jobs(
    conn: Connection,
    tenant_id: str | None,
    *,
    state: JobState | None,
    kind: JobKind | None,
    page_size: int,
    page_token: str,
    keyring: Keyring,
) -> tuple[list[Job], str]:
    """Return one page of a tenant's jobs (`tenant_id` None: every tenant's), newest
    first, and the next page's token (signed for this listing: server.pagetokens).
    NotFound for a tenant the service does not know."""
    listing = (tenant_id or EVERY_TENANT, state.value if state else "", kind.value if kind else "")
    # One transaction: the tenant's key is made on first use, and a refused token
    # must leave nothing behind (a tenant with no job has no key, and no token).
    async with conn.transaction():
        if tenant_id is not None:
            await require_known_tenant(conn, tenant_id)
        key: bytes | None = None
        cursor: pagetokens.Cursor | None = None
        if page_token:
            key = await _token_key(conn, tenant_id, keyring)
            cursor = pagetokens.read(key, listing, page_token)
        filters = (
            state.value if state else None,
            kind.value if kind else None,
            cursor.created_at if cursor else None,
            cursor.job_id if cursor else None,
            page_size + 1,  # one more tells whether there is a next page
        )
        if tenant_id is None:
            rows = await conn.fetch(Q["list_all_jobs"], *filters)
        else:
            rows = await conn.fetch(Q["list_jobs"], tenant_id, *filters)
        page = rows[:page_size]
        tasks_by_job: dict[uuid.UUID, list[asyncpg.Record]] = {r["id"]: [] for r in page}
        for task in await conn.fetch(Q["tasks_of_jobs"], list(tasks_by_job)):
            tasks_by_job[task["job_id"]].append(task)
        reviews: dict[uuid.UUID, list[asyncpg.Record]] = {r["id"]: [] for r in page}
        for review in await conn.fetch(Q["job_reviews"], list(reviews)):
            reviews[review["job_id"]].append(review)
        jobs = [read_job(r, tasks_by_job[r["id"]], reviews[r["id"]]) for r in page]
        if len(rows) <= page_size:
            return jobs, ""
        if key is None:
            key = await _token_key(conn, tenant_id, keyring)
        last = jobs[-1]
        return jobs, pagetokens.make(key, listing, pagetokens.Cursor(last.created_at, last.id))


async def _token_key(conn: Connection, tenant_id: str | None, keyring: Keyring) -> bytes:
    """A listing's page-token key: the tenant's, or for every tenant's jobs the
    keyring's own (no one tenant's key may sign a listing of the others)."""
    if tenant_id is None:
        return keyring.page_token_key
    return pagetokens.signing_key(await tenant_keys.tenant_key(conn, tenant_id, keyring))


async def cancel(conn: Connection, job_id: uuid.UUID, actor: str) -> Job:
    """Cancel a job: at once if it has not started, else at its next batch boundary.

    Never waits for a batch in flight: that batch holds the job's row until it
    commits (seconds, for a large one). The request is then recorded beside the job
    and its worker stops at the next batch boundary; the answer has
    `cancel_requested` set meanwhile."""
    async with conn.transaction():
        try:
            async with conn.transaction():  # a savepoint: the refusal leaves ours usable
                await conn.fetchval(Q["lock_job_nowait"], job_id)
        except asyncpg.LockNotAvailableError:
            return await _request_behind_batch(conn, job_id, actor)
        row = await conn.fetchrow(Q["request_cancel"], job_id)
        if row is None:
            job = await get(conn, job_id)  # NotFound when there is no such job
            raise FailedPrecondition(
                f"job {job_id} has already ended ({job.state.value}): nothing to cancel"
            )
        if row["not_started"]:
            # Scheduled, pending or held before any batch: nothing happened to undo.
            before = JobState(row["state"]).value
            await end_job(
                conn,
                JobEnd(
                    job_id=job_id,
                    tenant_id=row["tenant_id"],
                    subject_hash=row["subject_hash"],
                    state=JobState.CANCELLED,
                    error=f"cancelled while {before}",
                    actor=actor,
                ),
            )
        else:
            # Running: its worker ends it at the next batch boundary (BatchRunner).
            await _audit_request(conn, row["tenant_id"], row["subject_hash"], job_id, actor)
        return await get(conn, job_id)


async def _request_behind_batch(conn: Connection, job_id: uuid.UUID, actor: str) -> Job:
    """A batch holds the job's row: record the request where the worker looks at the
    next batch boundary, and answer with the job as last committed."""
    job = await get(conn, job_id)
    if job.state.terminal:
        raise FailedPrecondition(f"job {job_id} is already {job.state.value}")
    await conn.execute(Q["record_cancel_request"], job_id, actor)
    await _audit_request(conn, job.tenant_id, job.subject_hash, job_id, actor)
    return replace(job, cancel_requested=True)


async def _audit_request(
    conn: Connection, tenant_id: str, subject_hash: str, job_id: uuid.UUID, actor: str
) -> None:
    await audit.append(
        conn,
        AuditEntry(
            tenant_id=tenant_id,
            actor=actor,
            action="job.cancel_requested",
            job_id=job_id,
            subject_hash=subject_hash,
        ),
    )
    await conn.execute(Q["notify_job"], str(job_id))
