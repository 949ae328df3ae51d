"""Legal holds: a held subject's (or tenant's) data is not erased or anonymized.

Erase and Anonymize requests for a held subject are accepted as HELD jobs (so the
request is on record and runs once it may); a hold set while a job runs stops it
at its next batch boundary. Releasing the last hold covering a job resumes it.
Setting and releasing are audited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from db.connection import Connection
from server import audit, subjects, tenant_keys
from server.audit import AuditEntry
from server.errors import FailedPrecondition, NotFound
from server.keyring import Keyring
from server.queries import Q
from server.subjects import Subject
from server.tenancy import enter_tenant, require_tenant


@dataclass(frozen=True)
class LegalHold:
    id: uuid.UUID
    tenant_id: str
    subject_hash: str
    whole_tenant: bool
    reason: str
    created_at: datetime
    released_at: datetime | None


def _hold(row: asyncpg.Record) -> LegalHold:
    return LegalHold(
        id=row["id"],
        tenant_id=row["tenant_id"],
        subject_hash=row["subject_hash"],
        whole_tenant=row["whole_tenant"],
        reason=row["reason"],
        created_at=row["created_at"],
        released_at=row["released_at"],
    )


async def set_hold(
    conn: Connection,
    tenant_id: str,
    subject: Subject,
    reason: str,
    actor: str,
    *,
    region: str,
    keyring: Keyring,
) -> LegalHold:
    """Hold a subject's data; the open jobs the hold covers become HELD. `region`:
    where phone numbers are read (the subject's too)."""
    async with conn.transaction():
        await enter_tenant(conn, tenant_id)
        await require_tenant(conn, tenant_id)
        subject = subject.in_region(region)
        key = await tenant_keys.tenant_key(conn, tenant_id, keyring)
        subject_hash = subjects.subject_hash(key, subject)
        resolved = await subjects.resolve(conn, tenant_id, subject, region)
        contact_ids, user_ids = list(resolved.contact_ids), list(resolved.user_ids)
        row = await conn.fetchrow(
            Q["insert_hold"],
            uuid.uuid4(),
            tenant_id,
            subject_hash,
            resolved.whole_tenant,
            contact_ids,
            user_ids,
            reason,
            actor,
        )
        assert row is not None
        hold = _hold(row)
        held = await conn.fetch(
            Q["hold_open_jobs"], tenant_id, resolved.whole_tenant, contact_ids, user_ids
        )
        await audit.append(
            conn,
            AuditEntry(
                tenant_id=tenant_id,
                actor=actor,
                action="hold.set",
                subject_hash=subject_hash,
                details={
                    "hold_id": str(hold.id),
                    "whole_tenant": hold.whole_tenant,
                    "reason": reason,
                    "jobs_held": len(held),
                },
            ),
        )
        await _job_entries(conn, tenant_id, held, actor=actor, action="job.held", hold_id=hold.id)
        return hold


async def tenant_of(conn: Connection, hold_id: uuid.UUID) -> str | None:
    """The tenant a hold belongs to, or None when there is no such hold."""
    row = await conn.fetchrow(Q["get_hold"], hold_id)
    return None if row is None else str(row["tenant_id"])


async def release_hold(conn: Connection, hold_id: uuid.UUID, reason: str, actor: str) -> LegalHold:
    """Release a hold; the held jobs no other hold covers go back to the queue."""
    async with conn.transaction():
        row = await conn.fetchrow(Q["release_hold"], hold_id, actor)
        if row is None:
            if await conn.fetchrow(Q["get_hold"], hold_id) is None:
                raise NotFound(f"no legal hold with id {hold_id}")
            raise FailedPrecondition(f"legal hold {hold_id} is already released")
        hold = _hold(row)
        resumed = await conn.fetch(Q["resume_held_jobs"], hold.tenant_id)
        await audit.append(
            conn,
            AuditEntry(
                tenant_id=hold.tenant_id,
                actor=actor,
                action="hold.released",
                subject_hash=hold.subject_hash,
                details={"hold_id": str(hold.id), "reason": reason, "jobs_resumed": len(resumed)},
            ),
        )
        await _job_entries(
            conn, hold.tenant_id, resumed, actor=actor, action="job.resumed", hold_id=hold.id
        )
        return hold


async def _job_entries(
    conn: Connection,
    tenant_id: str,
    jobs: list[asyncpg.Record],
    *,
    actor: str,
    action: str,
    hold_id: uuid.UUID,
) -> None:
    """One audit entry per job a hold stopped or let go, and a wake-up for its watchers."""
    for job in jobs:
        await audit.append(
            conn,
            AuditEntry(
                tenant_id=tenant_id,
                actor=actor,
                action=action,
                job_id=job["id"],
                subject_hash=job["subject_hash"],
                details={"hold_id": str(hold_id)},
            ),
        )
        await conn.execute(Q["notify_job"], str(job["id"]))


async def list_holds(
    conn: Connection, tenant_id: str, *, include_released: bool
) -> list[LegalHold]:
    return [_hold(r) for r in await conn.fetch(Q["list_holds"], tenant_id, include_released)]
