"""Migrations apply once, re-run safely, and keep the tenant rule of the schema."""

from __future__ import annotations

import uuid

import asyncpg

from server.database import migrate, shipped_migrations
from tests.helpers.database import with_database


async def test_rerunning_migrations_applies_nothing(db: asyncpg.Connection) -> None:
    before = await db.fetch("SELECT version, applied_at FROM schema_migrations ORDER BY version")
    shipped = [version for version, _name, _sql in shipped_migrations()]
    assert len(shipped) >= 3
    assert [r["version"] for r in before] == shipped
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


async def test_jobs_in_flight_keep_their_part_by_name(server_url: str) -> None:
    # A deploy meets tasks stored with part numbers: each becomes the name of the part
    # it was in, the parts before it done; a number no built-in type knows stays and
    # fails its job by name (anonymizers/steps.py) rather than start over elsewhere.
    name = f"parts_{uuid.uuid4().hex}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        conn = await asyncpg.connect(with_database(server_url, name))
        try:
            # The schema as the deploy before named parts left it.
            await conn.execute(
                "CREATE TABLE schema_migrations (version integer PRIMARY KEY,"
                " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            for version, file, sql in shipped_migrations():
                if version < _NAMED_PARTS:
                    await conn.execute(sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                        version,
                        file,
                    )
            jobs = {kind_whole: uuid.uuid4() for kind_whole in _JOBS}
            for (kind, whole), job_id in jobs.items():
                await conn.execute(
                    "INSERT INTO privacy_jobs (id, tenant_id, kind, state, subject_kind,"
                    " subject_hash, whole_tenant, requested_by, deadline)"
                    " VALUES ($1, 't', $2, 'running', 'contact', 'h', $3, 'test', now())",
                    job_id,
                    kind,
                    whole,
                )
            tasks = [
                (jobs["erase", False], 0, "accounts", "apply", 2),
                (jobs["erase", True], 1, "contacts", "apply", 1),
                (jobs["erase", False], 2, "contacts", "apply", 0),
                (jobs["anonymize", False], 3, "contacts", "apply", 2),
                (jobs["anonymize", False], 4, "files", "mentions", 1),
                (jobs["anonymize", False], 5, "loyalty_cards", "apply", 1),
            ]
            await conn.executemany(
                "INSERT INTO privacy_job_tasks (job_id, position, data_type, step, part)"
                " VALUES ($1, $2, $3, $4, $5)",
                tasks,
            )
            await migrate(conn)
            rows = await conn.fetch(
                "SELECT position, part, parts_done FROM privacy_job_tasks ORDER BY position"
            )
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    assert [(r["part"], r["parts_done"]) for r in rows] == [
        ("sessions", ["credentials", "billing_contacts"]),
        ("deals", ["notes"]),
        ("contacts", []),
        ("deals", ["contacts", "notes"]),
        ("contents", ["token_index"]),
        ("1", []),
    ]


_NAMED_PARTS = 12
_JOBS = (("erase", False), ("erase", True), ("anonymize", False))
