"""Migrations apply once, re-run safely, and keep the tenant rule of the schema."""

from __future__ import annotations

import asyncpg

from server.database import migrate


async def test_rerunning_migrations_applies_nothing(db: asyncpg.Connection) -> None:
    before = await db.fetch("SELECT version, applied_at FROM schema_migrations ORDER BY version")
    assert [r["version"] for r in before] == [1, 2, 4]
    assert await migrate(db) == []
    after = await db.fetch("SELECT version, applied_at FROM schema_migrations ORDER BY version")
    assert after == before


async def test_every_tenant_table_keys_on_tenant_id(db: asyncpg.Connection) -> None:
    # The rule that lets the data shard by tenant: tenant_id is in every primary key.
    rows = await db.fetch(
        """
        SELECT c.relname AS table, array_agg(a.attname) AS pk
        FROM pg_index i
        JOIN pg_class c ON c.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey)
        WHERE i.indisprimary
          AND EXISTS (SELECT 1 FROM pg_attribute t
                      WHERE t.attrelid = c.oid AND t.attname = 'tenant_id')
        GROUP BY c.relname
        """
    )
    tables = {r["table"]: r["pk"] for r in rows}
    for name in (
        "contacts",
        "messages",
        "files",
        "deals",
        "notes",
        "users",
        "sessions",
        "usage_events",
        "billing_contacts",
        "channel_credentials",
    ):
        assert "tenant_id" in tables[name], name
