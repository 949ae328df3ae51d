"""Ending a job, whatever its end: cancelled before it started, finished by its
worker (succeeded or cancelled at a batch boundary), or failed after its retries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from db.connection import Connection
from server import audit, suppressions, tenant_keys
from server.audit import AuditEntry
from server.job_model import JobState
from server.queries import Q


@dataclass(frozen=True)
class JobEnd:
    """How a job ends, and who says so."""

    job_id: uuid.UUID
    tenant_id: str
    subject_hash: str
    state: JobState  # a terminal state
    error: str  # "" when it succeeded
    actor: str
    details: dict[str, object] = field(default_factory=dict)  # of its audit entry
    # A whole tenant erased: its key goes too (crypto-shredding).
    destroy_tenant_key: bool = False


async def end_job(conn: Connection, end: JobEnd) -> None:
    """Mark the job ended, forget its subject's identifiers and the tenant's stale
    mention tokens, audit "job.<state>" and tell its watchers; in the caller's
    transaction, so all of it commits or none.

    Identifiers are kept only while a job runs: they name the subject. The mention
    index keeps a rewritten text's old tokens until the row is indexed again
    (migration 0019): they are keyed hashes of what the text said, the subject's
    name among them, and go before the job is done."""
    await conn.fetchval(Q["finish_job"], end.job_id, end.state.value, end.error)
    await conn.execute(Q["forget_identifiers"], end.job_id)
    await conn.fetchval(Q["forget_stale_tokens"], end.tenant_id)
    details = dict(end.details)
    if end.state is JobState.CANCELLED:
        # An erasure called off did not (wholly) happen: the suppression it made when
        # it was accepted is lifted, or the person would be kept out for nothing.
        lifted = await suppressions.lift_job(conn, end.tenant_id, end.job_id)
        if lifted:
            details["suppressions_lifted"] = lifted
    await audit.append(
        conn,
        AuditEntry(
            tenant_id=end.tenant_id,
            actor=end.actor,
            action=f"job.{end.state.value}",
            job_id=end.job_id,
            subject_hash=end.subject_hash,
            details=details,
        ),
    )
    if end.destroy_tenant_key:
        # Last, in the transaction that ends the job: the audit entries and holds
        # keyed with it can no longer be linked to anyone (crypto-shredding). The
        # suppression list's hashes go with it: no longer checkable, and nothing of
        # the tenant's people may stay.
        await suppressions.drop_tenant(conn, end.tenant_id)
        await tenant_keys.destroy(conn, end.tenant_id)
    await conn.execute(Q["notify_job"], str(end.job_id))
