"""Row-level security: under the app role, a query that forgets its tenant filter
still sees only the tenant the transaction entered, and nothing without one."""

from __future__ import annotations

import asyncpg
import pytest

from server.tenancy import enter_tenant
from tests import factories


async def _count_contacts_as_app(db: asyncpg.Connection, tenant_id: str | None) -> int:
    async with db.transaction():
        if tenant_id is None:
            await db.execute("SET LOCAL ROLE privacy_app")
        else:
            await db.execute("SELECT privacy_enter_tenant($1)", tenant_id)
        # Deliberately no tenant filter: the policy must supply it.
        count: int = await db.fetchval("SELECT count(*) FROM contacts")
        return count


async def test_a_query_without_tenant_filter_sees_only_the_entered_tenant(
    db: asyncpg.Connection,
) -> None:
    for tenant, people in (("acme", 3), ("globex", 2)):
        await factories.tenant(db, tenant)
        for i in range(people):
            await factories.contact(db, tenant, "Ann", f"Lee{i}", messages=1)
    assert await db.fetchval("SELECT count(*) FROM contacts") == 5  # the owner sees all

    assert await _count_contacts_as_app(db, "acme") == 3
    assert await _count_contacts_as_app(db, "globex") == 2
    assert await _count_contacts_as_app(db, None) == 0
    # The role and the tenant last only as long as the transaction.
    assert await db.fetchval("SELECT current_user") != "privacy_app"
    assert await db.fetchval("SELECT count(*) FROM contacts") == 5


async def _insert_as_acme_into_globex(db: asyncpg.Connection) -> None:
    async with db.transaction():
        await db.execute("SELECT privacy_enter_tenant('acme')")
        await db.execute(
            "INSERT INTO contacts (tenant_id, first_name, last_name) "
            "VALUES ('globex', 'Eve', 'Intruder')"
        )


async def test_the_app_role_cannot_write_into_another_tenant(db: asyncpg.Connection) -> None:
    await factories.tenant(db, "acme")
    await factories.tenant(db, "globex")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await _insert_as_acme_into_globex(db)
    async with db.transaction():
        await db.execute("SELECT privacy_enter_tenant('acme')")
        deleted = await db.execute("DELETE FROM messages")  # no filter, still only acme's
    assert deleted == "DELETE 0"


async def test_every_tenant_data_table_has_row_level_security(db: asyncpg.Connection) -> None:
    # A new tenant table without a policy would silently fall outside the defense.
    missing = await db.fetch(
        """
        SELECT c.relname
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
        WHERE c.relkind = 'r'
          AND c.relname NOT LIKE 'privacy\\_%'
          AND EXISTS (SELECT 1 FROM pg_attribute a
                      WHERE a.attrelid = c.oid AND a.attname = 'tenant_id')
          AND NOT c.relrowsecurity
        """
    )
    assert [r["relname"] for r in missing] == []


async def test_enter_tenant_is_what_the_service_paths_call(db: asyncpg.Connection) -> None:
    # submission.submit, worker batches and export call this first in their transaction.
    async with db.transaction():
        await enter_tenant(db, "acme")
        row = await db.fetchrow("SELECT current_user, current_setting('privacy.tenant_id')")
    assert row is not None
    assert tuple(row) == ("privacy_app", "acme")
