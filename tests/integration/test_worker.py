"""Workers against a real PostgreSQL: leases, retries, cancellation, blob outbox, shutdown."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import asyncpg
import pytest

from anonymizers.base import Batch, BatchResult, Tools
from anonymizers.builtin.messages import MessagesAnonymizer
from anonymizers.registry import Registry, default_registry
from db.connection import Connection
from server import job_model, jobs
from server.blobs import BlobStore
from server.job_model import JobState
from server.queries import Q
from server.subjects import SubjectKind
from tests import factories
from tests.helpers import blob_view
from tests.helpers.waiting import eventually
from tests.helpers.workers import JobRunner, Outcome

EMAIL = SubjectKind.EMAIL


async def test_a_dead_workers_job_is_taken_again_once_its_lease_expires(
    db: asyncpg.Connection, worker: JobRunner
) -> None:
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe", messages=5)
    job = await worker.erase(tenant, EMAIL, jane.email)
    # A worker leased it, then died: its lease still runs for a moment.
    await db.execute(
        "UPDATE privacy_jobs SET state = 'running', lease_owner = 'gone:1:0', "
        "lease_expires_at = now() + interval '1 second' WHERE id = $1",
        job.id,
    )
    # Within the lease nobody else may take it: a worker looking for work passes it by.
    assert await worker.lease() is None
    assert await db.fetchval("SELECT lease_owner FROM privacy_jobs WHERE id = $1", job.id) == (
        "gone:1:0"
    )
    [done] = await worker.run(job.id)
    assert done.state == JobState.SUCCEEDED
    assert await db.fetchval("SELECT count(*) FROM messages") == 0


class _FailingMessages(MessagesAnonymizer):
    """Deletes its batch, then fails before the batch can commit."""

    async def erase(self, conn: Connection, batch: Batch, tools: Tools) -> BatchResult:
        await super().erase(conn, batch, tools)
        raise asyncpg.exceptions.SerializationError("simulated conflict mentioning jane@x.com")


async def test_a_failing_batch_writes_nothing_and_the_job_fails_after_retries(
    db: asyncpg.Connection, worker: JobRunner
) -> None:
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe", messages=4)
    registry = Registry()
    for anonymizer in default_registry().ordered():
        registry.register(_FailingMessages() if anonymizer.data_type == "messages" else anonymizer)
    fast = worker.configured(
        registry=registry, max_attempts=3, retry_base=timedelta(milliseconds=50)
    )
    [job] = await fast.run((await fast.erase(tenant, EMAIL, jane.email)).id)
    assert job.state == JobState.FAILED
    assert job.error == (
        "gave up after 3 failed attempts; last error: SerializationError (SQLSTATE 40001)"
    )
    assert "jane" not in job.error  # the driver's text never leaks
    # Every attempt rolled back: the messages and the contact are all still there.
    assert await db.fetchval("SELECT count(*) FROM messages") == 4
    assert await db.fetchval("SELECT count(*) FROM contacts") == 1
    entries = [
        (r["action"], r["data_type"])
        for r in await db.fetch("SELECT action, data_type FROM privacy_audit_log ORDER BY seq")
    ]
    # Accepted, every committed batch up to the failing one, then the failure: the
    # failing batch itself left no entry.
    assert entries[0] == ("erase.requested", "")
    assert entries[-1] == ("job.failed", "")
    assert ("erase.apply", "files") in entries
    assert ("erase.apply", "messages") not in entries


async def test_cancel_stops_at_the_next_batch_boundary(
    db: asyncpg.Connection, worker: JobRunner
) -> None:
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe", messages=10)
    job = await worker.erase(tenant, EMAIL, jane.email)
    assert await worker.lease() == job.id
    # Run batches until the first one of messages (3 rows, batch_size=3) is done.
    while await db.fetchval("SELECT count(*) FROM messages") == 10:
        assert await worker.run_batch(job.id) is Outcome.MORE
    running = await jobs.cancel(db, job.id, "tester")
    assert running.state == JobState.RUNNING  # cancel is a request until then
    assert await worker.run_batch(job.id) is Outcome.DONE
    cancelled = await job_model.get(db, job.id)
    assert cancelled.state == JobState.CANCELLED
    assert "after 3 rows" in cancelled.error
    assert await db.fetchval("SELECT count(*) FROM messages") == 7  # the rest untouched


async def test_cancel_before_start_does_nothing(db: asyncpg.Connection, worker: JobRunner) -> None:
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe", messages=2)
    job = await worker.erase(tenant, EMAIL, jane.email)
    cancelled = await jobs.cancel(db, job.id, "tester")
    assert cancelled.state == JobState.CANCELLED
    assert await db.fetchval("SELECT count(*) FROM messages") == 2


class _FlakyBlobs(blob_view.Wrapped):
    """Fails the first deletions, as a crash between commit and delete would."""

    def __init__(self, inner: BlobStore, failures: int) -> None:
        super().__init__(inner)
        self.failures = failures

    def delete(self, tenant_id: str, key: str) -> bool:
        if self.failures > 0:
            self.failures -= 1
            raise OSError("disk went away")
        return super().delete(tenant_id, key)


@pytest.mark.blob_stores
async def test_blobs_of_erased_rows_are_gone_before_the_job_succeeds(
    db: asyncpg.Connection, worker: JobRunner, blobs: BlobStore
) -> None:
    tenant = await factories.tenant(db)
    store = blobs
    blobs = _FlakyBlobs(store, failures=2)
    jane = await factories.contact(db, tenant, "Jane", "Doe", blobs=blobs, files=4)
    assert len(await asyncio.to_thread(blob_view.stored, store)) == 4
    flaky = worker.configured(blobs=blobs)
    [job] = await flaky.run((await flaky.erase(tenant, EMAIL, jane.email)).id)
    assert job.state == JobState.SUCCEEDED
    assert blobs.failures == 0
    assert await asyncio.to_thread(blob_view.stored, store) == {}
    assert await asyncio.to_thread(blob_view.leftovers, store) == []
    assert await db.fetchval("SELECT count(*) FROM privacy_blob_deletions") == 0
    assert await db.fetchval("SELECT count(*) FROM files") == 0


class _SlowDeletes(blob_view.Wrapped):
    """Deletes each blob only after a while, as a busy disk does."""

    def delete(self, tenant_id: str, key: str) -> bool:
        time.sleep(0.01)  # the disk's own slowness (in the store's thread), not a wait
        return super().delete(tenant_id, key)


@pytest.mark.blob_stores
async def test_deletions_still_running_when_the_worker_lets_go_finish_before_the_job(
    db: asyncpg.Connection, worker: JobRunner, blobs: BlobStore
) -> None:
    # Time slices far shorter than the blob deletions: the worker gives the job
    # back while deletions run behind it, and the job still ends only with every
    # blob gone and its outbox empty.
    tenant = await factories.tenant(db)
    store = blobs
    blobs = _SlowDeletes(store)
    for i in range(3):
        await factories.contact(db, tenant, "Jane", f"Doe{i}", blobs=blobs, files=8)
    sliced = worker.configured(blobs=blobs, time_slice=timedelta(milliseconds=1))
    accepted = await sliced.erase(tenant, SubjectKind.WHOLE_TENANT, tenant)
    [job] = await sliced.run(accepted.id, workers=1)
    assert job.state == JobState.SUCCEEDED
    assert await db.fetchval("SELECT slices FROM privacy_jobs WHERE id = $1", accepted.id) > 1
    assert await asyncio.to_thread(blob_view.stored, store) == {}
    assert await asyncio.to_thread(blob_view.leftovers, store) == []
    assert await db.fetchval("SELECT count(*) FROM privacy_blob_deletions") == 0
    assert await db.fetchval("SELECT count(*) FROM files") == 0


async def test_a_stopped_worker_releases_its_job_and_another_finishes_it_exactly_once(
    db: asyncpg.Connection, worker: JobRunner
) -> None:
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe", messages=40)
    one_by_one = worker.configured(batch_size=1)
    job = await one_by_one.erase(tenant, EMAIL, jane.email)

    async def some_batches_done() -> bool:
        left: int = await db.fetchval("SELECT count(*) FROM messages")
        return left < 35

    async with one_by_one.running(workers=1):
        await eventually(some_batches_done, what="five messages erased")
    # Stopped: the worker finished its batch and let go of the job.
    row = await db.fetchrow("SELECT state, lease_owner FROM privacy_jobs WHERE id = $1", job.id)
    assert row is not None
    assert row["state"] == "running"
    assert row["lease_owner"] is None  # released, not lost
    [done] = await one_by_one.run(job.id, workers=1)
    assert done.state == JobState.SUCCEEDED
    # Exactly once: the batches' counts add up to the rows, and the checkpoints only grow.
    batches = await db.fetch(
        "SELECT (details->>'processed')::int AS n, (details->>'checkpoint')::bigint AS cp "
        "FROM privacy_audit_log WHERE action = 'erase.apply' AND data_type = 'messages' "
        "ORDER BY seq"
    )
    assert sum(b["n"] for b in batches) == 40
    checkpoints = [b["cp"] for b in batches if b["n"]]
    assert checkpoints == sorted(set(checkpoints))
    assert await db.fetchval("SELECT count(*) FROM messages") == 0


@pytest.mark.parametrize("workers", [3])
async def test_concurrent_workers_never_share_a_job(
    db: asyncpg.Connection, worker: JobRunner, workers: int
) -> None:
    tenant = await factories.tenant(db)
    people = [await factories.contact(db, tenant, f"P{i}", "Doe", messages=6) for i in range(6)]
    pairs = worker.configured(batch_size=2)
    accepted = [await pairs.erase(tenant, EMAIL, p.email) for p in people]
    done = await pairs.run(*(j.id for j in accepted), workers=workers)
    assert {j.state for j in done} == {JobState.SUCCEEDED}
    # Each job's batch numbers run 1, 2, 3… with no repeat: one worker at a time.
    rows = await db.fetch(
        "SELECT job_id, data_type || action AS data_type, (details->>'batch')::int AS b "
        "FROM privacy_audit_log "
        "WHERE action IN ('erase.mentions', 'erase.apply') ORDER BY seq"
    )
    seen: dict[tuple[object, str], list[int]] = {}
    for r in rows:
        seen.setdefault((r["job_id"], r["data_type"]), []).append(r["b"])
    assert all(b == list(range(1, len(b) + 1)) for b in seen.values())
    assert await db.fetchval("SELECT count(*) FROM messages") == 0


async def test_blob_work_behind_the_batches_skips_outbox_rows_a_job_end_is_draining(
    db: asyncpg.Connection, other_db: asyncpg.Connection
) -> None:
    # A worker that let go of a job may still be forgetting deletions when another
    # worker ends the job and drains the same rows: the one behind skips them (the
    # drain deletes them itself) instead of waiting, so neither waits for the other.
    await db.execute(
        "INSERT INTO privacy_blob_deletions (tenant_id, blob_key) "
        "VALUES ('acme', 'a'), ('acme', 'b')"
    )
    async with other_db.transaction():
        await other_db.execute(Q["forget_blob_deletion"], "acme", ["a"])
        # The drain holds row 'a': the forget behind takes 'b' and returns at once.
        status = await db.execute(Q["forget_blob_deletion_behind"], "acme", ["a", "b"], timeout=5)
        assert status == "DELETE 1"
    assert await db.fetchval("SELECT count(*) FROM privacy_blob_deletions") == 0


async def test_a_queued_blob_key_the_store_refuses_fails_the_job_instead_of_looping(
    db: asyncpg.Connection, worker: JobRunner
) -> None:
    # A deletion in the outbox whose key leaves the blob directory (queued by an
    # older version, or written by hand): the job's end meets it. Each time counts as
    # an attempt and the job ends FAILED, not RUNNING and re-leased for ever.
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe", messages=1)
    job = await worker.erase(tenant, EMAIL, jane.email)
    await db.execute(
        "INSERT INTO privacy_blob_deletions (tenant_id, blob_key, job_id) VALUES ($1, $2, $3)",
        tenant,
        f"{tenant}/../../elsewhere",
        job.id,
    )
    fast = worker.configured(max_attempts=2, retry_base=timedelta(milliseconds=50))
    # A job that is only ever re-leased is still running when the wait ends.
    [ended] = await fast.run(job.id)
    assert ended.state == JobState.FAILED
    error = await db.fetchval("SELECT error FROM privacy_jobs WHERE id = $1", job.id)
    assert error == (
        "gave up after 2 failed attempts; last error: "
        "a blob in the outbox: blob key escapes its tenant's directory"
    )
    # The outbox keeps the row for an operator (docs/runbook.md); nothing was deleted.
    assert await db.fetchval("SELECT count(*) FROM privacy_blob_deletions") == 1
