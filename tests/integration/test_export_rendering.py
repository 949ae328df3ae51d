"""Export records rendered to JSON by PostgreSQL say what the Python rendering says."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest

from anonymizers.records import NEVER_EXPORTED, records, rendered
from server.blobs import LocalBlobStore
from server.seed import seed_tenant

# Every exported table, every column: the values of each type the export meets.
_QUERIES = {
    "contacts": "SELECT * FROM contacts WHERE tenant_id = $1 ORDER BY id",
    "notes": "SELECT * FROM notes WHERE tenant_id = $1 ORDER BY id",
    "deals": "SELECT * FROM deals WHERE tenant_id = $1 ORDER BY id",
    "messages": "SELECT * FROM messages WHERE tenant_id = $1 ORDER BY id",
    "usage_events": "SELECT * FROM usage_events WHERE tenant_id = $1 ORDER BY id",
    "users": "SELECT * FROM users WHERE tenant_id = $1 ORDER BY id",
    "billing_contacts": "SELECT * FROM billing_contacts WHERE tenant_id = $1 ORDER BY id",
    "sessions": "SELECT * FROM sessions WHERE tenant_id = $1 ORDER BY id",
    "files": "SELECT * FROM files WHERE tenant_id = $1 ORDER BY id",
}


async def _both(
    db: asyncpg.Connection, kind: str, sql: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    async with db.transaction():
        by_python = [
            json.loads(json.dumps(r, sort_keys=True)) async for r in records(db, kind, sql, "demo")
        ]
        by_database = [
            json.loads(j) async for r in rendered(db, kind, sql, "demo") for j in r.jsons
        ]
    return by_python, by_database


@pytest.mark.parametrize("kind", sorted(_QUERIES))
async def test_the_database_renders_what_python_rendered(
    db: asyncpg.Connection, blobs: LocalBlobStore, kind: str
) -> None:
    await seed_tenant(db, blobs, "demo", contacts=12, seed=3)
    # Values the seed may not make: nested and non-ASCII JSON, a birthday, a whole
    # second, an IPv6 address, a network, NULLs, a quote and a control character.
    await db.execute(
        "UPDATE contacts SET custom_fields = $1::jsonb, birthday = '1980-02-29', "
        "created_at = '2024-01-02 03:04:05+00', address = E'Z\u00fcrich \"Altstadt\"\\n\\t' "
        "WHERE id = (SELECT min(id) FROM contacts WHERE tenant_id = 'demo')",
        json.dumps({"tier": {"name": "gold \u2728", "since": [2019, None, 1.5]}, "vip": True}),
    )
    await db.execute(
        "UPDATE usage_events SET ip = CASE WHEN id % 3 = 0 THEN '2001:db8::1'::inet "
        "WHEN id % 3 = 1 THEN '10.1.2.0/24'::inet ELSE NULL END WHERE tenant_id = 'demo'"
    )
    await db.execute("UPDATE deals SET amount = 1234.50 WHERE tenant_id = 'demo'")
    await db.execute("SET TIME ZONE 'Asia/Kolkata'")  # whatever the session's: UTC out

    by_python, by_database = await _both(db, kind, _QUERIES[kind])

    assert by_database, f"the seed made no {kind}"
    # What Python would have exported, less the fields that never leave the service.
    expected = [{k: v for k, v in r.items() if k not in NEVER_EXPORTED} for r in by_python]
    assert by_database == expected
    for r in by_database:
        assert r["kind"] == kind
        assert not NEVER_EXPORTED & set(r)
    if kind == "deals":  # a decimal string, exact
        assert {r["amount"] for r in by_database} == {"1234.50"}


async def test_a_trailing_comment_or_semicolon_does_not_break_the_wrapped_query(
    db: asyncpg.Connection,
) -> None:
    sql = "SELECT 1 AS id, 'x' AS secret, 'y' AS name; -- the last line"
    async with db.transaction():
        got = [json.loads(j) async for r in rendered(db, "things", sql) for j in r.jsons]
    assert got == [{"kind": "things", "id": 1, "name": "y"}]
