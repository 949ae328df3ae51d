"""Steps with nothing to do share a transaction with the next batch instead of
costing one each; every step still gets its own audit entry and progress."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from server.job_model import JobState
from server.subjects import SubjectKind
from tests import factories
from tests.helpers.workers import JobRunner, erase_request


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


async def test_parts_are_stored_by_name_and_a_part_no_longer_known_fails_the_job(
    db: asyncpg.Connection, worker: JobRunner
) -> None:
    # A whole tenant's contacts erase in three named parts (notes, deals, contacts);
    # the task row says which one a job is in and which are done, by name.
    tenant = await factories.tenant(db)
    for i in range(3):
        await factories.contact(db, tenant, "Jane", f"Doe{i}", messages=1)
    small = worker.configured(batch_size=1)
    job = await small.submit(erase_request(tenant, SubjectKind.WHOLE_TENANT, tenant))
    [done] = await small.run(job.id)
    assert done.state == JobState.SUCCEEDED
    row = await db.fetchrow(
        "SELECT part, parts_done FROM privacy_job_tasks"
        " WHERE job_id = $1 AND data_type = 'contacts'",
        job.id,
    )
    assert row is not None
    assert (row["part"], row["parts_done"]) == ("contacts", ["notes", "deals", "contacts"])
    parts = await db.fetch(
        "SELECT details->>'part' AS part FROM privacy_audit_log"
        " WHERE job_id = $1 AND data_type = 'contacts' AND action = 'erase.apply' ORDER BY seq",
        job.id,
    )
    assert list(dict.fromkeys(r["part"] for r in parts)) == ["notes", "deals", "contacts"]
    assert await db.fetchval("SELECT count(*) FROM contacts WHERE tenant_id = $1", tenant) == 0

    # A deploy renamed a part a running job was in: the job fails naming it, and the
    # rows of that part are left alone rather than skipped as done.
    other = await factories.tenant(db, "globex")
    bob = await factories.contact(db, other, "Bob", "Stone", messages=1)
    job = await worker.erase(other, SubjectKind.EMAIL, bob.email)
    await db.execute(
        "UPDATE privacy_job_tasks SET part = 'messages_v1', checkpoint = 0"
        " WHERE job_id = $1 AND data_type = 'messages' AND step = 'apply'",
        job.id,
    )
    fast = worker.configured(max_attempts=2, retry_base=timedelta(milliseconds=50))
    [ended] = await fast.run(job.id)
    assert ended.state == JobState.FAILED
    assert ended.error == (
        "gave up after 2 failed attempts; last error: messages.erase has no part "
        "'messages_v1' (its parts: messages): a part was renamed without migrating the "
        "jobs that were in it"
    )
    assert await db.fetchval("SELECT count(*) FROM messages WHERE tenant_id = $1", other) == 1
