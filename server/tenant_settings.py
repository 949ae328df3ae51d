"""A tenant's own settings for the privacy service: the region its phone numbers are in."""

from __future__ import annotations

from anonymizers.text import context
from anonymizers.text.phones import is_region
from db.connection import Connection
from server import audit
from server.audit import AuditEntry
from server.errors import InvalidArgument
from server.queries import Q
from server.tenancy import require_tenant


async def phone_region(conn: Connection, tenant_id: str, default: str) -> tuple[str, bool]:
    """The tenant's region, and whether it is its own (False: the service's default)."""
    own = await context.phone_region(conn, tenant_id, "")
    return (own, True) if own else (default, False)


async def set_phone_region(conn: Connection, tenant_id: str, region: str, actor: str) -> str:
    """Read the tenant's phone numbers without a country code in `region`; audited.

    Jobs accepted before keep the numbers they were planned with; a scheduled job
    reads the tenant again when it starts."""
    region = region.strip().upper()
    if not is_region(region):
        raise InvalidArgument("region", "is not a region code such as US, GB or DE")
    async with conn.transaction():
        await require_tenant(conn, tenant_id)
        await conn.execute(Q["set_phone_region"], tenant_id, region)
        await audit.append(
            conn,
            AuditEntry(
                tenant_id=tenant_id,
                actor=actor,
                action="tenant.phone_region_set",
                details={"phone_region": region},
            ),
        )
    return region
