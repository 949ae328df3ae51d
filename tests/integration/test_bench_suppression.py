"""Figure 6 of make bench, its raw-SQL side and its data: the entries it fills are
the ones the service's own lookup finds (speed is measured there, never here)."""

from __future__ import annotations

import asyncpg

from bench import measure
from server import suppressions
from server.keyring import Keyring
from server.tenant_keys import tenant_key
from tests import factories


async def test_the_filled_list_is_what_the_service_finds_and_raw_sql_runs(
    db: asyncpg.Connection, db_url: str, keyring: Keyring
) -> None:
    tenant = await factories.tenant(db)
    key = await tenant_key(db, tenant, keyring)
    listed = await measure.fill_suppressions(db, tenant, key, 300)
    assert (
        await db.fetchval("SELECT count(*) FROM privacy_suppressions WHERE tenant_id = $1", tenant)
        == 300
    )

    # The service's own hashing and lookup (server.suppressions) agree with the fill.
    asked = [suppressions.Identifier(suppressions.IdentifierKind.EMAIL, e) for e in listed.hits[:3]]
    asked += [
        suppressions.Identifier(suppressions.IdentifierKind.EMAIL, e.upper())
        for e in listed.misses[:3]
    ]
    hashed = suppressions.hashed(asked, key, "US")
    assert await suppressions.check(db, tenant, hashed.hashes) == [True] * 3 + [False] * 3

    batches = measure.suppression_batches(listed, 12, 100)
    assert all(len(b) == 100 for b in batches)
    raw = await measure.suppression_raw(db_url, listed, batches, 4)
    assert raw["identifiers_per_s"] > 0
    assert raw["p99_ms"] >= raw["p50_ms"] > 0
