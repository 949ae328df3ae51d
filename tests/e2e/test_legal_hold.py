"""Legal holds against a real server and PostgreSQL: held data survives until released."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import asyncpg
import pytest
from prometheus_client import REGISTRY

from atomicrm.privacy.v1 import privacy_pb2 as pb
from clients.client import PrivacyClient, PrivacyClientError, subject
from server import metrics
from server.app import App
from server.config import Settings
from tests import factories
from tests.helpers.waiting import a_worker_cycled, eventually


async def _actions(db: asyncpg.Connection) -> list[str]:
    rows = await db.fetch("SELECT action FROM privacy_audit_log ORDER BY tenant_id, seq")
    return [r["action"] for r in rows]


async def test_a_held_subject_survives_an_erase_until_released(
    db: asyncpg.Connection, client: PrivacyClient
) -> None:
    await factories.tenant(db)
    jane = await factories.contact(db, "acme", "Jane", "Doe", messages=4)
    bob = await factories.contact(db, "acme", "Bob", "Stone", messages=2)
    hold = await client.set_legal_hold("acme", subject(email=jane.email), "case 2026-17")
    assert not hold.whole_tenant
    assert not hold.HasField("released_at")

    held = await client.erase("acme", subject(contact_id=jane.id))
    free = await client.erase("acme", subject(contact_id=bob.id))
    assert held.state == pb.JOB_STATE_HELD
    assert list(held.legal_hold_ids) == [hold.id]
    # Someone not held is erased meanwhile; the held one is not touched.
    assert (await asyncio.wait_for(client.wait_job(free.id), 30)).state == (pb.JOB_STATE_SUCCEEDED)
    await a_worker_cycled(2)  # the client's server has two: one looked for work since
    assert (await client.get_job(held.id)).state == pb.JOB_STATE_HELD
    assert await db.fetchval("SELECT count(*) FROM messages WHERE contact_id = $1", jane.id) == 4
    assert [h.id for h in await client.list_legal_holds("acme")] == [hold.id]

    released = await client.release_legal_hold(hold.id, "case closed")
    assert released.HasField("released_at")
    done = await asyncio.wait_for(client.wait_job(held.id), 30)
    assert done.state == pb.JOB_STATE_SUCCEEDED, done.error_message
    assert await db.fetchval("SELECT count(*) FROM messages") == 0
    assert await client.list_legal_holds("acme") == []
    assert [h.id for h in await client.list_legal_holds("acme", include_released=True)] == [hold.id]
    actions = await _actions(db)
    for action in ("hold.set", "hold.released", "job.resumed"):
        assert action in actions
    # Audited by keyed hash and reason only: nothing of Jane's in the log.
    log = " ".join(str(r) for r in await db.fetch("SELECT * FROM privacy_audit_log"))
    assert jane.email not in log
    assert "Jane" not in log


async def test_a_hold_set_while_a_job_runs_stops_it_at_a_batch_boundary(
    db: asyncpg.Connection, settings: Settings
) -> None:
    await factories.tenant(db)
    await db.execute(
        "INSERT INTO contacts (tenant_id, first_name, last_name, email) "
        "SELECT 'acme', 'First' || g, 'Last' || g, 'p' || g || '@acme.example' "
        "FROM generate_series(1, 600) g"
    )
    # One worker: the one running the job is the one whose next turn shows it let go.
    app = App(replace(settings, batch_size=2, workers=1))
    await app.start()
    try:
        async with PrivacyClient(f"127.0.0.1:{app.port}", token=app.dev_token) as client:
            job = await client.erase("acme", subject(whole_tenant="acme"))

            async def some_erased() -> bool:
                left: int = await db.fetchval("SELECT count(*) FROM contacts")
                return left <= 550

            await eventually(some_erased, what="50 contacts erased")
            hold = await client.set_legal_hold("acme", subject(whole_tenant="acme"), "audit")
            assert (await client.get_job(job.id)).state == pb.JOB_STATE_HELD
            left = await db.fetchval("SELECT count(*) FROM contacts")
            await a_worker_cycled(1)  # its next batch was refused, and it went on
            assert await db.fetchval("SELECT count(*) FROM contacts") == left  # stopped
            assert left > 0
            await client.release_legal_hold(hold.id)
            done = await asyncio.wait_for(client.wait_job(job.id), 60)
    finally:
        await app.stop()
    assert done.state == pb.JOB_STATE_SUCCEEDED, done.error_message
    contacts = next(p for p in done.progress if p.data_type == "contacts")
    assert (contacts.planned, contacts.done) == (600, 600)  # every row once, none twice
    assert await db.fetchval("SELECT count(*) FROM contacts") == 0


async def test_a_tenant_hold_holds_every_erasure_and_anonymization_in_it(
    db: asyncpg.Connection, client: PrivacyClient
) -> None:
    await factories.tenant(db)
    await factories.tenant(db, "other")
    jane = await factories.contact(db, "acme", "Jane", "Doe")
    olga = await factories.contact(db, "other", "Olga", "Berg")
    await client.set_legal_hold("acme", subject(whole_tenant="acme"), "regulator inquiry")
    erase = await client.erase("acme", subject(contact_id=jane.id))
    anonymize = await client.anonymize("acme", subject(contact_id=jane.id))
    elsewhere = await client.erase("other", subject(contact_id=olga.id))
    assert erase.state == anonymize.state == pb.JOB_STATE_HELD
    assert (await asyncio.wait_for(client.wait_job(elsewhere.id), 30)).state == (
        pb.JOB_STATE_SUCCEEDED
    )
    # A held job can still be cancelled: nothing ran, nothing to undo.
    cancelled = await client.cancel_job(erase.id)
    assert cancelled.state == pb.JOB_STATE_CANCELLED
    assert cancelled.error_message == "cancelled while held"
    assert await db.fetchval("SELECT count(*) FROM contacts WHERE tenant_id = 'acme'") == 1


@pytest.mark.parametrize(
    ("call", "code", "field"),
    [
        ("no_reason", "INVALID_ARGUMENT", "reason"),
        ("unknown_subject", "NOT_FOUND", None),
        ("bad_id", "INVALID_ARGUMENT", "hold_id"),
        ("unknown_id", "NOT_FOUND", None),
        ("twice", "FAILED_PRECONDITION", None),
    ],
)
async def test_bad_hold_requests_get_a_precise_status_and_change_nothing(
    db: asyncpg.Connection, client: PrivacyClient, call: str, code: str, field: str | None
) -> None:
    await factories.tenant(db)
    jane = await factories.contact(db, "acme", "Jane", "Doe")
    if call == "twice":
        hold = await client.set_legal_hold("acme", subject(contact_id=jane.id), "case 1")
        await client.release_legal_hold(hold.id)
    before = await db.fetchval("SELECT count(*) FROM privacy_audit_log")
    holds = await db.fetchval("SELECT count(*) FROM privacy_legal_holds")
    attempts = {
        "no_reason": lambda: client.set_legal_hold("acme", subject(contact_id=jane.id), " "),
        "unknown_subject": lambda: client.set_legal_hold(
            "acme", subject(email="nobody@example.com"), "case 1"
        ),
        "bad_id": lambda: client.release_legal_hold("not-a-uuid"),
        "unknown_id": lambda: client.release_legal_hold("00000000-0000-0000-0000-000000000001"),
        "twice": lambda: client.release_legal_hold(hold.id),
    }
    with pytest.raises(PrivacyClientError) as raised:
        await attempts[call]()
    assert raised.value.code.name == code
    if field:
        assert [f for f, _ in raised.value.field_violations] == [field]
    assert await db.fetchval("SELECT count(*) FROM privacy_audit_log") == before
    assert await db.fetchval("SELECT count(*) FROM privacy_legal_holds") == holds


async def test_held_jobs_do_not_count_as_late(db: asyncpg.Connection, settings: Settings) -> None:
    await factories.tenant(db)
    jane = await factories.contact(db, "acme", "Jane", "Doe")
    app = App(replace(settings, workers=0))
    await app.start()
    try:
        async with PrivacyClient(f"127.0.0.1:{app.port}", token=app.dev_token) as client:
            await client.set_legal_hold("acme", subject(contact_id=jane.id), "case 9")
            job = await client.erase("acme", subject(contact_id=jane.id))
        await db.execute(
            "UPDATE privacy_jobs SET deadline = now() - interval '1 day' WHERE id = $1", job.id
        )
        assert app.pool is not None
        await metrics.refresh_backlog(app.pool)
    finally:
        await app.stop()
    sample = REGISTRY.get_sample_value
    assert sample("privacy_jobs_open", {"kind": "erase", "state": "held"}) == 1
    assert sample("privacy_jobs_past_deadline") == 0
