"""A tenant-wide erasure runs bigger batches; a single person's keeps the set size."""

from __future__ import annotations

from dataclasses import replace

import asyncpg

from clients.client import PrivacyClient, subject
from server.app import App
from server.config import Settings
from tests import factories


async def _batches(db: asyncpg.Connection, job_id: str) -> list[int]:
    rows = await db.fetch(
        "SELECT (details->>'processed')::int AS n FROM privacy_audit_log "
        "WHERE job_id = $1 AND action = 'erase.apply' AND data_type = 'messages' ORDER BY seq",
        job_id,
    )
    return [r["n"] for r in rows]


async def test_whole_tenant_erase_batches_are_four_times_the_batch_size(
    db: asyncpg.Connection, settings: Settings
) -> None:
    for tenant in ("acme", "globex"):
        await factories.tenant(db, tenant)
        await factories.contact(db, tenant, "Jane", "Doe", messages=30)
    app = App(replace(settings, batch_size=3, workers=1))
    await app.start()
    try:
        async with PrivacyClient(f"127.0.0.1:{app.port}", token=app.dev_token) as client:
            jane = await client.erase("globex", subject(email="jane.doe@example.com"))
            whole = await client.erase("acme", subject(whole_tenant="acme"))
            done = [await client.wait_job(j.id) for j in (jane, whole)]
    finally:
        await app.stop()
    assert [j.error_message for j in done] == ["", ""]
    assert await _batches(db, jane.id) == [3] * 10 + [0]
    assert await _batches(db, whole.id) == [12, 12, 6]
    assert await db.fetchval("SELECT count(*) FROM messages") == 0
