"""What a job covers, read from the tenant's data: the subject's identifiers, and a
scheduled job's plan read again when its time comes."""

from __future__ import annotations

import uuid

from anonymizers.base import Scope
from anonymizers.counting import count_rows
from anonymizers.registry import Registry
from anonymizers.text import context
from anonymizers.text.identity import Identifiers
from db.connection import Connection
from server.job_model import STEP_APPLY, scope_of
from server.keyring import Keyring
from server.queries import Q
from server.tenancy import enter_tenant
from server.tenant_keys import tenant_key


async def subject_identifiers(
    conn: Connection, registry: Registry, scope: Scope, region: str, tenant_key: bytes
) -> Identifiers:
    """Everything that identifies the subject, from every data type (filtered or not),
    with what the tenant says about it (namesakes, shared addresses, the region)."""
    found = Identifiers().merged(*[await a.identifiers(conn, scope) for a in registry.ordered()])
    return await context.with_context(conn, scope, found, region=region, tenant_key=tenant_key)


async def tenant_region(conn: Connection, tenant_id: str, default_region: str) -> str:
    """The region a tenant's phone numbers without a country code are read in."""
    return await context.phone_region(conn, tenant_id, default_region)


async def replan(
    conn: Connection,
    registry: Registry,
    job_id: uuid.UUID,
    *,
    default_region: str,
    keyring: Keyring,
) -> None:
    """Count a scheduled job's rows and read its subject's identifiers again.

    Between acceptance and not_before the subject's data lives on (new messages, a
    changed email): the job must cover today's, not only what was there then.
    """
    row = await conn.fetchrow(Q["get_job"], job_id)
    assert row is not None
    await enter_tenant(conn, row["tenant_id"])  # the caller's transaction, from here on
    scope = scope_of(row)
    applied = [
        t["data_type"] for t in await conn.fetch(Q["job_tasks"], job_id) if t["step"] == STEP_APPLY
    ]
    counts = await count_rows(conn, [registry.get(d) for d in applied], scope)
    for data_type, count in counts.items():
        await conn.execute(Q["replan_task"], job_id, data_type, count)
    raw = await conn.fetchval(Q["job_identifiers"], job_id)
    if raw is not None:
        region = await tenant_region(conn, row["tenant_id"], default_region)
        key = await tenant_key(conn, row["tenant_id"], keyring)
        today = await subject_identifiers(conn, registry, scope, region, key)
        # What the subject was known by then stays; the tenant's context is today's.
        merged = Identifiers.from_json(raw).merged(today)
        await conn.execute(Q["replace_identifiers"], job_id, merged.to_json())
