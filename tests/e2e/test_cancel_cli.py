"""`privacyctl cancel` answers at once while a batch of the job is in flight, and the
worker stops the job at the next batch boundary (docs/design.md, "Cancelling")."""

from __future__ import annotations

import json
import re
from pathlib import Path

import asyncpg

from server.app import App
from tests import factories
from tests.helpers import processes
from tests.helpers.waiting import eventually


async def _blocked_by(db: asyncpg.Connection, pid: int) -> int:
    """How many sessions wait for a lock session `pid` holds."""
    count: int = await db.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", pid
    )
    return count


async def test_cancel_answers_while_a_batch_holds_the_job_then_the_job_ends_cancelled(
    app: App, db: asyncpg.Connection, db_url: str, blob_dir: Path
) -> None:
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe", messages=4)
    env = processes.app_env(app, db_url, blob_dir)
    # A long batch, for real: a session of ours holds Jane's contact row, so the batch
    # that reaches it waits, holding its job's row (locked from the batch's first
    # statement to its commit) all the while.
    locker = await asyncpg.connect(db_url)
    try:
        holding = locker.transaction()
        await holding.start()
        await locker.execute("SELECT 1 FROM contacts WHERE id = $1 FOR UPDATE", jane.id)
        code, out = await processes.run(["erase", "--tenant", tenant, "--email", jane.email], env)
        assert code == 0, out
        found = re.search(r"accepted job (\S+)", out)
        assert found, out
        job_id = found.group(1)
        pid = await locker.fetchval("SELECT pg_backend_pid()")
        await eventually(lambda: _blocked_by(db, pid), what="a batch waiting on the contact")
        assert (
            await db.fetchval(
                "SELECT state FROM privacy_jobs WHERE id = $1 AND lease_owner IS NOT NULL", job_id
            )
            == "running"
        )

        code, out = await processes.run(["cancel", job_id], env)

        # It answered with the batch still waiting on our lock: it did not wait for it.
        assert await _blocked_by(db, pid) == 1
        assert code == 0, out
        assert f"job {job_id} running (cancelling: it stops at its next batch boundary)" in out
        code, out = await processes.run(["jobs", "--tenant", tenant, "-o", "json"], env)
        assert code == 0, out
        (listed,) = json.loads(out)["jobs"]
        assert (listed["state"], listed["cancel_requested"]) == ("running", True)
        assert (
            await db.fetchval(
                "SELECT count(*) FROM privacy_audit_log WHERE action = 'job.cancel_requested'"
            )
            == 1
        )
    finally:
        await locker.close()  # the batch goes on, and commits

    code, out = await processes.run(["watch", job_id], env)
    assert code == 1, out  # not succeeded
    assert f"job {job_id} cancelled" in out, out
    assert "cancelled at a batch boundary after" in out
    assert "cancelling" not in out.splitlines()[-1]
    ended = await db.fetch(
        "SELECT action, actor FROM privacy_audit_log WHERE job_id = $1 AND action LIKE 'job.%'"
        " ORDER BY seq",
        job_id,
    )
    assert [r["action"] for r in ended] == ["job.cancel_requested", "job.cancelled"]
    # A second cancel of an ended job is refused, as before.
    code, out = await processes.run(["cancel", job_id], env)
    assert code == 2, out
    assert "FAILED_PRECONDITION" in out
    assert f"job {job_id} has already ended (cancelled)" in out
