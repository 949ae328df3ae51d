"""A batch's new values, written in one statement, arrive as they were given."""

from __future__ import annotations

import json

import asyncpg

from db.bulk import update_rows
from tests import factories


async def test_text_arrays_and_json_round_trip_and_other_tenants_stay(
    db: asyncpg.Connection,
) -> None:
    for tenant in ("acme", "globex"):
        await factories.tenant(db, tenant)
        await factories.contact(db, tenant, "Ann", "Lee", messages=2)
    mine = [r["id"] for r in await db.fetch("SELECT id FROM messages WHERE tenant_id = 'acme'")]
    theirs = await db.fetch("SELECT * FROM messages WHERE tenant_id = 'globex' ORDER BY id")
    body = 'Quotes " and \\ backslash, {braces}, Zo\u00eb \U0001f600,\nnew line'
    await update_rows(
        db,
        "messages",
        "acme",
        (("body", "text"), ("subject", "text"), ("recipients", "text[]")),
        [(mine[0], body, None, ["a@x.io", 'b,"c"', ""]), (mine[1], "", "s", [])],
    )
    rows = await db.fetch(
        "SELECT body, subject, recipients FROM messages WHERE tenant_id = 'acme' ORDER BY id"
    )
    assert [tuple(r) for r in rows] == [
        (body, None, ["a@x.io", 'b,"c"', ""]),
        ("", "s", []),
    ]
    # Ids of another tenant's rows change nothing there: the tenant filters.
    await update_rows(db, "messages", "acme", (("body", "text"),), [(r["id"], "x") for r in theirs])
    assert await db.fetch("SELECT * FROM messages WHERE tenant_id = 'globex' ORDER BY id") == theirs

    contact = await db.fetchval("SELECT id FROM contacts WHERE tenant_id = 'acme'")
    fields = {"tier": {"name": "gold", "since": [2019, None]}, "note": "x\u2019y"}
    await update_rows(db, "contacts", "acme", (("custom_fields", "jsonb"),), [(contact, fields)])
    stored = await db.fetchval("SELECT custom_fields FROM contacts WHERE id = $1", contact)
    assert json.loads(stored) == fields
    await update_rows(db, "contacts", "acme", (("custom_fields", "jsonb"),), [])  # nothing to do
