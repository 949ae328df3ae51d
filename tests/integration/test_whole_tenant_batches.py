"""A tenant-wide erasure runs bigger batches; a single person's keeps the set size."""

from __future__ import annotations

import uuid

import asyncpg

from server.subjects import SubjectKind
from tests import factories
from tests.helpers.workers import JobRunner


async def _batches(db: asyncpg.Connection, job_id: uuid.UUID) -> list[int]:
    rows = await db.fetch(
        "SELECT (details->>'processed')::int AS n FROM privacy_audit_log "
        "WHERE job_id = $1 AND action = 'erase.apply' AND data_type = 'messages' ORDER BY seq",
        job_id,
    )
    return [r["n"] for r in rows]


async def test_whole_tenant_erase_batches_are_four_times_the_batch_size(
    db: asyncpg.Connection, worker: JobRunner
) -> None:
    for tenant in ("acme", "globex"):
        await factories.tenant(db, tenant)
        await factories.contact(db, tenant, "Jane", "Doe", messages=30)
    threes = worker.configured(batch_size=3)
    jane = await threes.erase("globex", SubjectKind.EMAIL, "jane.doe@example.com")
    whole = await threes.erase("acme", SubjectKind.WHOLE_TENANT, "acme")
    done = await threes.run(jane.id, whole.id, workers=1)
    assert [j.error for j in done] == ["", ""]
    assert await _batches(db, jane.id) == [3] * 10 + [0]
    assert await _batches(db, whole.id) == [12, 12, 6]
    assert await db.fetchval("SELECT count(*) FROM messages") == 0
