"""The audit log: append-only (the database refuses changes), hash-chained per tenant."""

from __future__ import annotations

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


async def append(conn: Connection, entry: AuditEntry) -> int:
    """Append an entry inside the caller's transaction; return its sequence number."""
    seq = await conn.fetchval(
        Q["audit_append"],
        entry.tenant_id,
        entry.actor,
        entry.action,
        entry.job_id,
        entry.subject_hash,
        entry.data_type,
        json.dumps(entry.details, sort_keys=True),
    )
    return int(seq)
