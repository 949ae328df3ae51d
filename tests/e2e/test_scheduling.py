"""Scheduling against a real server and PostgreSQL: not_before, deadlines, priorities, fairness."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from atomicrm.privacy.v1 import privacy_pb2 as pb
from clients.client import PrivacyClient, PrivacyClientError, subject
from server.app import App
from server.config import Settings
from tests import factories
from tests.helpers.waiting import a_worker_cycled, eventually


async def _started_order(db: asyncpg.Connection, job_ids: list[str]) -> list[str]:
    rows = await db.fetch(
        "SELECT id::text FROM privacy_jobs WHERE id = ANY($1::uuid[]) ORDER BY started_at",
        job_ids,
    )
    return [r["id"] for r in rows]


async def _submit_then_run(
    no_workers: Settings, settings: Settings, submit: list[tuple[str, dict[str, object]]]
) -> list[pb.Job]:
    """Submit jobs while no worker runs, then let exactly one worker run them all."""
    idle = App(no_workers)
    await idle.start()
    try:
        async with PrivacyClient(f"127.0.0.1:{idle.port}", token=idle.dev_token) as client:
            jobs = [
                await client.erase("acme", subject(email=email), **options)  # type: ignore[arg-type]
                for email, options in submit
            ]
    finally:
        await idle.stop()
    app = App(replace(settings, workers=1))
    await app.start()
    try:
        async with PrivacyClient(f"127.0.0.1:{app.port}", token=app.dev_token) as client:
            return [await asyncio.wait_for(client.wait_job(j.id), 60) for j in jobs]
    finally:
        await app.stop()


async def test_a_scheduled_job_waits_and_cancelling_it_undoes_nothing(
    db: asyncpg.Connection, client: PrivacyClient
) -> None:
    await factories.tenant(db)
    jane = await factories.contact(db, "acme", "Jane", "Doe", messages=3)
    later = datetime.now(UTC) + timedelta(hours=1)
    job = await client.erase("acme", subject(email=jane.email), not_before=later)
    assert job.state == pb.JOB_STATE_SCHEDULED
    assert abs(job.not_before.ToDatetime(tzinfo=UTC) - later) < timedelta(seconds=1)
    await a_worker_cycled(2)  # the client's server's workers looked for work since
    assert (await client.get_job(job.id)).state == pb.JOB_STATE_SCHEDULED
    assert await db.fetchval("SELECT started_at FROM privacy_jobs WHERE id = $1", job.id) is None

    cancelled = await client.cancel_job(job.id)
    assert cancelled.state == pb.JOB_STATE_CANCELLED
    assert cancelled.error_message == "cancelled while scheduled"
    assert await db.fetchval("SELECT count(*) FROM messages") == 3
    assert await db.fetchval("SELECT count(*) FROM contacts") == 1
    assert await db.fetchval("SELECT count(*) FROM privacy_job_identifiers") == 0
    actions = await db.fetch("SELECT action FROM privacy_audit_log WHERE job_id = $1", job.id)
    assert [a["action"] for a in actions] == ["erase.requested", "job.cancelled"]


async def test_a_scheduled_job_runs_when_its_time_comes_on_the_data_of_that_time(
    db: asyncpg.Connection, client: PrivacyClient
) -> None:
    await factories.tenant(db)
    jane = await factories.contact(db, "acme", "Jane", "Doe", messages=2)
    bob = await factories.contact(db, "acme", "Bob", "Stone")
    not_before = datetime.now(UTC) + timedelta(seconds=2)
    job = await client.erase("acme", subject(contact_id=jane.id), not_before=not_before)
    assert job.state == pb.JOB_STATE_SCHEDULED
    # In the grace period Jane writes again and changes her email; Bob's note names it.
    await db.execute(
        "INSERT INTO messages (tenant_id, channel, contact_id, direction, sender, body) "
        "VALUES ('acme', 'email', $1, 'inbound', 'jane@new.example', 'one more')",
        jane.id,
    )
    await db.execute(
        "UPDATE contacts SET email = 'jane@new.example' WHERE tenant_id = 'acme' AND id = $1",
        jane.id,
    )
    await db.execute(
        "INSERT INTO notes (tenant_id, contact_id, body) "
        "VALUES ('acme', $1, 'write to jane@new.example')",
        bob.id,
    )
    done = await asyncio.wait_for(client.wait_job(job.id), 30)
    assert done.state == pb.JOB_STATE_SUCCEEDED, done.error_message
    assert done.started_at.ToDatetime(tzinfo=UTC) >= not_before
    messages = next(p for p in done.progress if p.data_type == "messages")
    assert (messages.planned, messages.done) == (3, 3)  # planned again when it started
    assert await db.fetchval("SELECT count(*) FROM messages") == 0
    note = await db.fetchval("SELECT body FROM notes WHERE contact_id = $1", bob.id)
    assert "jane@new.example" not in note


async def test_the_closer_deadline_runs_first_and_children_before_anyone(
    db: asyncpg.Connection, no_workers: Settings, settings: Settings
) -> None:
    await factories.tenant(db)
    names = ["Ann", "Ben", "Cat", "Dan", "Eve"]
    people = [await factories.contact(db, "acme", n, "Roe") for n in names]
    child = people[4]
    await db.execute(
        "UPDATE contacts SET birthday = current_date - interval '12 years' WHERE id = $1",
        child.id,
    )
    now = datetime.now(UTC)
    jobs = await _submit_then_run(
        no_workers,
        settings,
        [
            (people[0].email, {"deadline": now + timedelta(days=20)}),
            (people[1].email, {"deadline": now + timedelta(days=10)}),
            (people[2].email, {"deadline": now + timedelta(days=29)}),
            (people[3].email, {"subject_under_16": True}),  # flagged by the caller
            (child.email, {}),  # a birthday that says under 16
        ],
    )
    assert all(j.state == pb.JOB_STATE_SUCCEEDED for j in jobs)
    assert [j.priority for j in jobs] == [100, 100, 100, 0, 0]
    order = await _started_order(db, [j.id for j in jobs])
    by_id = {j.id: name for j, name in zip(jobs, names, strict=True)}
    # The two children first (in order of deadline: the same, so of age), then by deadline.
    assert [by_id[i] for i in order] == ["Dan", "Eve", "Ben", "Ann", "Cat"]


async def test_a_deadline_within_72_hours_runs_before_ordinary_work(
    db: asyncpg.Connection, no_workers: Settings, settings: Settings
) -> None:
    await factories.tenant(db)
    ann, ben = [await factories.contact(db, "acme", n, "Roe") for n in ("Ann", "Ben")]
    now = datetime.now(UTC)
    jobs = await _submit_then_run(
        no_workers,
        settings,
        [
            (ann.email, {}),
            (ben.email, {"deadline": now + timedelta(hours=48)}),
        ],
    )
    order = await _started_order(db, [j.id for j in jobs])
    assert order == [jobs[1].id, jobs[0].id]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"deadline": timedelta(seconds=-5)}, "deadline"),
        ({"deadline": timedelta(days=31)}, "deadline"),
        ({"not_before": timedelta(days=10), "deadline": timedelta(days=5)}, "not_before"),
        ({"not_before": timedelta(days=30, hours=1)}, "not_before"),
    ],
)
async def test_impossible_times_are_refused_and_write_nothing(
    db: asyncpg.Connection,
    client: PrivacyClient,
    options: dict[str, timedelta],
    field: str,
) -> None:
    await factories.tenant(db)
    jane = await factories.contact(db, "acme", "Jane", "Doe")
    now = datetime.now(UTC)
    times = {k: now + v for k, v in options.items()}
    with pytest.raises(PrivacyClientError) as raised:
        await client.erase("acme", subject(email=jane.email), **times)  # type: ignore[arg-type]
    assert raised.value.code.name == "INVALID_ARGUMENT"
    assert [f for f, _ in raised.value.field_violations] == [field]
    assert await db.fetchval("SELECT count(*) FROM privacy_jobs") == 0
    assert await db.fetchval("SELECT count(*) FROM privacy_audit_log") == 0


async def test_single_subject_erasures_finish_while_a_tenant_wide_job_runs(
    db: asyncpg.Connection, settings: Settings
) -> None:
    """One worker only: the tenant-wide job must share it, not hold it to the end."""
    await factories.tenant(db)
    await factories.tenant(db, "bigco")
    await db.execute(
        "INSERT INTO contacts (tenant_id, first_name, last_name, email) "
        "SELECT 'bigco', 'First' || g, 'Last' || g, 'p' || g || '@bigco.example' "
        "FROM generate_series(1, 1500) g"
    )
    people = [await factories.contact(db, "acme", n, "Roe") for n in ("Ann", "Ben", "Cat")]
    app = App(replace(settings, workers=1, time_slice=timedelta(milliseconds=100)))
    await app.start()
    try:
        async with PrivacyClient(f"127.0.0.1:{app.port}", token=app.dev_token) as client:
            bulk = await client.erase("bigco", subject(whole_tenant="bigco"))
            assert bulk.priority == 200

            async def bulk_running() -> bool:
                return (await client.get_job(bulk.id)).state == pb.JOB_STATE_RUNNING

            await eventually(bulk_running, what="the bulk job running")
            singles = [await client.erase("acme", subject(email=p.email)) for p in people]
            finished = [await asyncio.wait_for(client.wait_job(j.id), 60) for j in singles]
            bulk_then = await client.get_job(bulk.id)
            bulk_done = await asyncio.wait_for(client.wait_job(bulk.id), 120)
    finally:
        await app.stop()
    assert all(j.state == pb.JOB_STATE_SUCCEEDED for j in finished)
    # The tenant-wide job was still running when the last single erasure ended…
    assert bulk_then.state == pb.JOB_STATE_RUNNING
    assert sum(p.done for p in bulk_then.progress) < 1500
    # …and finished afterwards, every row once.
    assert bulk_done.state == pb.JOB_STATE_SUCCEEDED, bulk_done.error_message
    contacts = next(p for p in bulk_done.progress if p.data_type == "contacts")
    assert (contacts.planned, contacts.done) == (1500, 1500)
    assert await db.fetchval("SELECT count(*) FROM contacts") == 0
    slices = await db.fetchval("SELECT slices FROM privacy_jobs WHERE id = $1", bulk.id)
    assert slices >= 1  # it gave its worker back at least once
