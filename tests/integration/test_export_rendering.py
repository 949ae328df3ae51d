"""Export records rendered to JSON by PostgreSQL say what the Python rendering says."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest

from anonymizers import records
from anonymizers.records import NEVER_EXPORTED, Rendered, rendered
from demo.seeding import seed_tenant
from server.blobs import BlobStore

# Every test here runs against the local store and the S3 one.
pytestmark = pytest.mark.blob_stores

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
            json.loads(json.dumps(r, sort_keys=True))
            async for r in records.records(db, kind, sql, "demo")
        ]
        by_database = [
            json.loads(j) async for r in rendered(db, kind, sql, "demo") for j in _lines(r)
        ]
    return by_python, by_database


def _lines(block: Rendered) -> list[bytes]:
    """A block's records, checking that it holds `count` newline-ended lines."""
    assert block.ndjson.endswith(b"\n")
    lines = block.ndjson.split(b"\n")[:-1]
    assert len(lines) == block.count
    return lines


@pytest.mark.parametrize("kind", sorted(_QUERIES))
async def test_the_database_renders_what_python_rendered(
    db: asyncpg.Connection, blobs: BlobStore, kind: str
) -> None:
    await seed_tenant(db, blobs, "demo", contacts=12, seed=3)
    # Values the seed may not make: nested and non-ASCII JSON, a birthday, a whole
    # second, an IPv6 address, a network, NULLs, a quote, a backslash, control
    # characters and a line separator.
    await db.execute(
        "UPDATE contacts SET custom_fields = $1::jsonb, birthday = '1980-02-29', "
        "created_at = '2024-01-02 03:04:05+00', "
        "address = E'Z\u00fcrich \"Altstadt\"\\n\\t C:\\\\dir\u2028' "
        "WHERE id = (SELECT min(id) FROM contacts WHERE tenant_id = 'demo')",
        json.dumps(
            {
                "tier": {"name": "gold \u2728", "since": [2019, None, 1.5]},
                "vip": True,
                "dir": "C:\\",
            }
        ),
    )
    # Fractional seconds with trailing zeros (written without them) and a microsecond.
    await db.execute(
        "UPDATE contacts SET created_at = CASE WHEN id % 2 = 0 "
        "THEN timestamptz '2024-01-02 03:04:05.120+00' "
        "ELSE timestamptz '2024-01-02 03:04:05.000001+00' END "
        "WHERE id > (SELECT min(id) FROM contacts WHERE tenant_id = 'demo') AND tenant_id = 'demo'"
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
    if kind == "contacts":  # ISO 8601 in UTC, fractions without trailing zeros
        assert {r["created_at"] for r in by_database} == {
            "2024-01-02T03:04:05+00:00",
            "2024-01-02T03:04:05.12+00:00",
            "2024-01-02T03:04:05.000001+00:00",
        }
    if kind == "deals":  # a decimal string, exact
        assert {r["amount"] for r in by_database} == {"1234.50"}


async def test_a_trailing_comment_or_semicolon_does_not_break_the_wrapped_query(
    db: asyncpg.Connection,
) -> None:
    sql = "SELECT 1 AS id, 'x' AS secret, 'y' AS name; -- the last line"
    async with db.transaction():
        got = [json.loads(j) async for r in rendered(db, "things", sql) for j in _lines(r)]
    assert got == [{"kind": "things", "id": 1, "name": "y"}]


async def test_records_cut_into_blocks_anywhere_come_back_whole(
    db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Backslashes (which COPY doubles) and rows of many lengths, cut into blocks at
    # whatever chunk the database sent: every row whole, once, in order.
    sql = (
        "SELECT g AS id, repeat(E'\\\\\"x', g % 97) || repeat('y', g * 7 % 5000) AS body "
        "FROM generate_series(1, 3000) g ORDER BY g"
    )
    async with db.transaction():
        whole = [json.loads(j) async for r in rendered(db, "things", sql) for j in _lines(r)]
        monkeypatch.setattr(records, "BLOCK_BYTES", 1)  # a block of each chunk
        cut = [r async for r in rendered(db, "things", sql)]
    assert len(cut) > 10
    assert [json.loads(j) for r in cut for j in _lines(r)] == whole
    assert [r["id"] for r in whole] == list(range(1, 3001))
    assert whole[95]["body"] == '\\"x' * 96 + "y" * (96 * 7 % 5000)  # id 96


async def test_file_records_carry_their_path_and_ids(
    db: asyncpg.Connection, blobs: BlobStore
) -> None:
    await seed_tenant(db, blobs, "demo", contacts=12, seed=3)
    # Names that keep letters of any script and lose what no disk takes.
    await db.execute(
        "UPDATE files SET name = CASE id % 3 WHEN 0 THEN E'Z\u00fcrich/../\u2028\"x\".pdf' "
        "WHEN 1 THEN '...' ELSE name END WHERE tenant_id = 'demo'"
    )
    sql = "SELECT * FROM files WHERE tenant_id = $1 ORDER BY id"
    async with db.transaction():
        by_python = [
            json.loads(json.dumps(r)) async for r in records.records(db, "files", sql, "demo")
        ]
        blocks = [r async for r in records.rendered_files(db, sql, "demo")]
    by_database = [json.loads(j) for r in blocks for j in _lines(r)]
    expected = [
        {
            **{k: v for k, v in r.items() if k not in NEVER_EXPORTED},
            "path": records.file_path(r["id"], r["name"]),
        }
        for r in by_python
    ]
    assert by_database == expected
    assert [i for r in blocks for i in r.file_ids] == [r["id"] for r in by_python]
    paths = {r["name"]: r["path"] for r in by_database}
    assert paths["..."].split("-", 1)[1] == "file"
    assert {p.split("-", 1)[1] for n, p in paths.items() if n and "rich" in n} == {
        "Z\u00fcrich_.._x_.pdf"
    }
