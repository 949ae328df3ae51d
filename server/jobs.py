"""Jobs: listing and cancelling them, and finding a job's tenant.

What a job is lives in job_model (with `get`), accepting one in submission, what it
covers in job_plan, and ending one (whatever the state) in job_end.
"""

from __future__ import annotations

import uuid

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


async def tenant_of(conn: Connection, job_id: uuid.UUID) -> str | None:
    """The tenant a job belongs to, or None when there is no such job."""
    tenant: str | None = await conn.fetchval(Q["job_tenant"], job_id)
    return tenant


async def list_jobs(
    conn: Connection,
    tenant_id: str,
    *,
    state: JobState | None,
    kind: JobKind | None,
    page_size: int,
    page_token: str,
    keyring: Keyring,
) -> tuple[list[Job], str]:
    """Return one page of a tenant's jobs, newest first, and the next page's token
    (signed for this tenant and filter: server.pagetokens)."""
    listing = (tenant_id, state.value if state else "", kind.value if kind else "")
    # One transaction: the tenant's key is made on first use, and a refused token
    # must leave nothing behind (a tenant with no job has no key, and no token).
    async with conn.transaction():
        key: bytes | None = None
        cursor: pagetokens.Cursor | None = None
        if page_token:
            key = pagetokens.signing_key(await tenant_keys.tenant_key(conn, tenant_id, keyring))
            cursor = pagetokens.read(key, listing, page_token)
        rows = await conn.fetch(
            Q["list_jobs"],
            tenant_id,
            state.value if state else None,
            kind.value if kind else None,
            cursor.created_at if cursor else None,
            cursor.job_id if cursor else None,
            page_size + 1,  # one more tells whether there is a next page
        )
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
            key = pagetokens.signing_key(await tenant_keys.tenant_key(conn, tenant_id, keyring))
        last = jobs[-1]
        return jobs, pagetokens.make(key, listing, pagetokens.Cursor(last.created_at, last.id))


async def cancel(conn: Connection, job_id: uuid.UUID, actor: str) -> Job:
    """Cancel a job: at once if it has not started, else at its next batch boundary."""
    async with conn.transaction():
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
            await audit.append(
                conn,
                AuditEntry(
                    tenant_id=row["tenant_id"],
                    actor=actor,
                    action="job.cancel_requested",
                    job_id=job_id,
                    subject_hash=row["subject_hash"],
                ),
            )
            await conn.execute(Q["notify_job"], str(job_id))
        return await get(conn, job_id)
