"""Steps with nothing to do share a transaction with the next batch instead of
costing one each; every step still gets its own audit entry and progress."""

from __future__ import annotations

import asyncpg

from server.job_model import JobState
from server.subjects import SubjectKind
from tests import factories
from tests.helpers.workers import JobRunner


async def test_empty_steps_share_a_transaction(db: asyncpg.Connection, worker: JobRunner) -> None:
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe", messages=2)
    await factories.contact(db, tenant, "Bob", "Stone", messages=2)
    big = worker.configured(batch_size=100)
    job = await big.erase(tenant, SubjectKind.EMAIL, jane.email)
    [done] = await big.run(job.id, timeout=30)
    assert done.state == JobState.SUCCEEDED
    rows = await db.fetch(
        "SELECT action, data_type, xmin::text AS tx, (details->>'batch')::int AS batch "
        "FROM privacy_audit_log WHERE job_id = $1 AND action IN ('erase.mentions', 'erase.apply') "
        "ORDER BY seq",
        done.id,
    )
    tasks = await db.fetchval("SELECT count(*) FROM privacy_job_tasks WHERE job_id = $1", done.id)
    # One entry per batch of a step (or of one of its parts), as before; far fewer
    # transactions than steps.
    assert len(rows) >= tasks
    assert len({r["tx"] for r in rows}) <= 2
    assert await db.fetchval("SELECT count(*) FROM messages") == 2  # Bob's
    assert list(dict.fromkeys(r["data_type"] for r in rows if r["action"] == "erase.apply")) == [
        "files",
        "messages",
        "activity",
        "contacts",
        "accounts",
    ]
