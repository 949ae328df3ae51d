"""The audit log: append-only (the database refuses changes), hash-chained per tenant."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from anonymizers.base import Connection
from server.queries import Q


@dataclass(frozen=True)
class AuditEntry:
    """One entry: who did what, for which tenant, with counts. No raw personal data."""

    tenant_id: str
    actor: str
    action: str
    job_id: uuid.UUID | None = None
    subject_hash: str = ""
    data_type: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def _arguments(entry: AuditEntry) -> tuple[Any, ...]:
    """privacy_audit_append's arguments, in its order."""
    return (
        entry.tenant_id,
        entry.actor,
        entry.action,
        entry.job_id,
        entry.subject_hash,
        entry.data_type,
        json.dumps(entry.details, sort_keys=True),
    )


async def append(conn: Connection, entry: AuditEntry) -> int:
    """Append an entry inside the caller's transaction; return its sequence number."""
    seq = await conn.fetchval(Q["audit_append"], *_arguments(entry))
    return int(seq)


async def append_and_notify(conn: Connection, entry: AuditEntry, job_id: uuid.UUID) -> int:
    """Append an entry and notify job `job_id`'s watchers, in one round trip.

    The append locks the tenant's chain head until the transaction ends: make it
    the transaction's last statement, so other transactions of the tenant wait
    only for the commit."""
    seq = await conn.fetchval(Q["audit_append_and_notify"], *_arguments(entry), str(job_id))
    return int(seq)


@dataclass(frozen=True)
class Verdict:
    """The result of checking a tenant's chain: how far it holds, and where it breaks."""

    tenant_id: str
    entries: int
    first_bad_seq: int | None = None
    problem: str = ""

    @property
    def intact(self) -> bool:
        return self.first_bad_seq is None


async def verify(conn: Connection, tenant_id: str) -> Verdict:
    """Recompute a tenant's chain; name the first entry that was changed, removed,
    inserted or moved. The hashes are recomputed here, not by the database function."""
    expected_prev, expected_seq, entries = "", 1, 0
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        async for row in conn.cursor(Q["audit_chain"], tenant_id, prefetch=1000):
            entries += 1
            seq = row["seq"]
            if seq != expected_seq:
                return Verdict(
                    tenant_id,
                    entries,
                    expected_seq,
                    f"entry {expected_seq} is missing (next is {seq})",
                )
            if row["prev_hash"] != expected_prev:
                return Verdict(
                    tenant_id,
                    entries,
                    seq,
                    "does not follow the entry before it (removed, inserted or moved)",
                )
            if hashlib.sha256(row["hashed"].encode()).hexdigest() != row["hash"]:
                return Verdict(tenant_id, entries, seq, "its contents were changed")
            expected_prev, expected_seq = row["hash"], seq + 1
        head = await conn.fetchrow(Q["audit_head"], tenant_id)
    if head is not None and (head["seq"], head["hash"]) != (expected_seq - 1, expected_prev):
        return Verdict(
            tenant_id,
            entries,
            expected_seq,
            f"the chain's head is entry {head['seq']}: entries after "
            f"{expected_seq - 1} were removed",
        )
    return Verdict(tenant_id, entries)
