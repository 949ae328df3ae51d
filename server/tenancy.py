"""Enter a tenant: the rest of the transaction sees only that tenant's data."""

from __future__ import annotations

from db.connection import Connection
from server.queries import Q


async def enter_tenant(conn: Connection, tenant_id: str) -> None:
    """Switch this transaction to the privacy_app role with `tenant_id` set, so
    row-level security hides every other tenant even from a query that forgets its
    tenant filter. Both end with the transaction. Call it first in the transaction."""
    await conn.execute(Q["enter_tenant"], tenant_id)
