"""Enter a tenant: the rest of the transaction sees only that tenant's data."""

from __future__ import annotations

from db.connection import Connection
from server.errors import NotFound
from server.queries import Q


async def enter_tenant(conn: Connection, tenant_id: str) -> None:
    """Switch this transaction to the privacy_app role with `tenant_id` set, so
    row-level security hides every other tenant even from a query that forgets its
    tenant filter. Both end with the transaction. Call it first in the transaction."""
    await conn.execute(Q["enter_tenant"], tenant_id)


def no_such_tenant(tenant_id: str) -> NotFound:
    """The error for a tenant that does not exist."""
    return NotFound(f"no tenant with tenant_id {tenant_id!r}")


async def require_tenant(conn: Connection, tenant_id: str) -> None:
    """NotFound unless the tenant exists."""
    if not await conn.fetchval(Q["tenant_exists"], tenant_id):
        raise no_such_tenant(tenant_id)


async def require_known_tenant(conn: Connection, tenant_id: str) -> None:
    """NotFound unless the service knows the tenant: the CRM has it, or it has jobs or
    an audit log here (what a tenant the CRM dropped leaves). A listing of a tenant
    that does not exist is a mistake (a typo), not an empty answer."""
    if not await conn.fetchval(Q["tenant_known"], tenant_id):
        raise no_such_tenant(tenant_id)
