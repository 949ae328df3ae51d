"""The bench's twin tenants (bench/twins.py): a copy holds what seeding the same
seed again would, row for row and blob for blob, under its own tenant and keys."""

from __future__ import annotations

import asyncpg

from bench import twins
from bench.measure import TABLES
from demo.seeding import seed_tenant
from server.blobs import BlobStore


async def _rows(db: asyncpg.Connection, tenant: str, table: str) -> list[dict[str, object]]:
    rows = await db.fetch(f"SELECT * FROM {table} WHERE tenant_id = $1 ORDER BY id", tenant)
    return [{k: v for k, v in r.items() if k != "tenant_id"} for r in rows]


def _without_keys(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{k: v for k, v in r.items() if k not in ("blob_key", "profile_picture")} for r in rows]


async def test_a_twin_holds_the_same_rows_and_blobs_under_its_own_keys(
    db: asyncpg.Connection, blobs: BlobStore
) -> None:
    await seed_tenant(db, blobs, "first", contacts=8, seed=1)
    copied = await twins.copy_tenant(db, blobs, "first", "twin")
    assert copied > 8
    for table in TABLES:
        theirs, ours = await _rows(db, "first", table), await _rows(db, "twin", table)
        assert _without_keys(ours) == _without_keys(theirs), table
    files = await db.fetch(
        "SELECT a.blob_key AS first, b.blob_key AS twin FROM files a "
        "JOIN files b ON b.tenant_id = 'twin' AND b.id = a.id WHERE a.tenant_id = 'first'"
    )
    assert files
    for f in files:
        assert f["twin"].startswith("twin/")
        assert blobs.get("twin", f["twin"]) == blobs.get("first", f["first"])
    # The twin's blobs are its own: erasing the first tenant's leaves them.
    blobs.delete("first", files[0]["first"])
    assert blobs.get("twin", files[0]["twin"])
    # Queued for the mention index as any write is.
    assert await db.fetchval(
        "SELECT count(*) FROM privacy_texts_to_index WHERE tenant_id = 'twin'"
    ) == await db.fetchval("SELECT count(*) FROM privacy_texts_to_index WHERE tenant_id = 'first'")
