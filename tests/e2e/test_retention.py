"""Retention rules against a real server and PostgreSQL: periodic, ordinary, audited jobs."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import asyncpg

from anonymizers.registry import default_registry
from atomicrm.privacy.v1 import privacy_pb2 as pb
from clients.client import PrivacyClient
from server import retention
from server.app import App
from server.config import Settings
from server.keyring import Keyring
from server.retention import RetentionPolicy
from tests import factories
from tests.helpers.waiting import eventually

DEADLINE = timedelta(days=30)


async def _user(db: asyncpg.Connection, email: str, closed_days_ago: int | None = None) -> int:
    user_id: int = await db.fetchval(
        "INSERT INTO users (tenant_id, email, name, closed_at) "
        "VALUES ('acme', $1, $1, now() - make_interval(days => $2)) RETURNING id",
        email,
        closed_days_ago,
    )
    return user_id


async def _events(db: asyncpg.Connection, user_id: int, months_ago: int, n: int) -> None:
    await db.execute(
        "INSERT INTO usage_events (tenant_id, user_id, event, page, ip, user_agent, device_id, "
        "occurred_at) SELECT 'acme', $1, 'open', '/contacts?email=ann@example.com', "
        "'203.0.113.77', 'Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0', 'device-' || g, "
        "now() - make_interval(months => $2) FROM generate_series(1, $3) g",
        user_id,
        months_ago,
        n,
    )


async def test_a_retention_run_anonymizes_old_activity_and_erases_closed_accounts(
    db: asyncpg.Connection, settings: Settings, keyring: Keyring
) -> None:
    await factories.tenant(db)
    ann = await _user(db, "ann@example.com")
    gone = await _user(db, "gone@example.com", closed_days_ago=10)
    recent = await _user(db, "recent@example.com", closed_days_ago=1)
    await _events(db, ann, months_ago=14, n=5)
    await _events(db, ann, months_ago=2, n=3)

    registry = default_registry()
    submitted = await retention.run(db, registry, deadline=DEADLINE, keyring=keyring)
    kinds = sorted((j.kind.value, j.subject_hash != "") for j in submitted)
    assert kinds == [("anonymize", True), ("erase", True)]
    erased = await db.fetchval("SELECT user_ids FROM privacy_jobs WHERE kind = 'erase'")
    assert erased == [gone]
    activity = next(j for j in submitted if j.kind.value == "anonymize")
    assert {p.data_type: p.planned for p in activity.progress} == {"activity": 5}
    assert activity.priority == 300
    # Running again submits nothing: the period is covered, the account is taken care of.
    assert await retention.run(db, registry, deadline=DEADLINE, keyring=keyring) == []

    app = App(settings)
    await app.start()
    try:
        async with PrivacyClient(f"127.0.0.1:{app.port}", token=app.dev_token) as client:
            for job in submitted:
                done = await asyncio.wait_for(client.wait_job(str(job.id)), 30)
                assert done.state == pb.JOB_STATE_SUCCEEDED, done.error_message
    finally:
        await app.stop()

    old = await db.fetch(
        "SELECT * FROM usage_events WHERE occurred_at < now() - interval '13 months'"
    )
    new = await db.fetch(
        "SELECT * FROM usage_events WHERE occurred_at > now() - interval '13 months'"
    )
    assert len(old) == 5
    assert len(new) == 3
    originals = {f"device-{i}" for i in range(1, 6)}
    assert all(str(e["ip"]) == "203.0.113.0" and "ann@" not in e["page"] for e in old)
    assert all(e["device_id"] not in originals for e in old)
    assert all(str(e["ip"]) == "203.0.113.77" and e["device_id"] in originals for e in new)
    users = {r["id"] for r in await db.fetch("SELECT id FROM users")}
    assert users == {ann, recent}  # closed 10 days ago: erased; 1 day ago: still in its grace
    entries = await db.fetch(
        "SELECT actor, action FROM privacy_audit_log WHERE action LIKE '%.requested'"
    )
    assert {(e["actor"], e["action"]) for e in entries} == {
        ("retention", "anonymize.requested"),
        ("retention", "erase.requested"),
    }
    deadline = await db.fetchval(
        "SELECT deadline - u.closed FROM privacy_jobs, "
        "(SELECT now() - interval '10 days' AS closed) u WHERE kind = 'erase'"
    )
    # From the closing, not from the run.
    assert abs(deadline - DEADLINE) < timedelta(seconds=5)


async def test_a_tenant_can_turn_a_rule_off_and_the_service_runs_rules_by_itself(
    db: asyncpg.Connection, settings: Settings
) -> None:
    await factories.tenant(db)
    await factories.tenant(db, "other")
    ann = await _user(db, "ann@example.com")
    await _events(db, ann, months_ago=14, n=2)
    await _user(db, "gone@example.com", closed_days_ago=10)
    await retention.set_policy(
        db, "acme", RetentionPolicy(activity_months=None, closed_account_days=7), "test"
    )
    assert await retention.policy(db, "acme") == RetentionPolicy(None, 7)
    assert await retention.policy(db, "other") == retention.DEFAULT_POLICY

    # Notes are emptied as soon as their job ended: the sign that a run went by.
    app = App(
        replace(
            settings, retention_interval=timedelta(milliseconds=200), note_retention=timedelta(0)
        )
    )
    await app.start()
    try:

        async def erased() -> bool:
            state = await db.fetchval("SELECT state FROM privacy_jobs WHERE kind = 'erase'")
            return bool(state == "succeeded")

        await eventually(erased, timeout=15, what="the retention job succeeding")
        # Several more runs: none may add a job. A run empties ended jobs' notes first,
        # then applies the rules; one note emptied after another was emptied means the
        # run that emptied the first had ended: three make two whole runs.
        for _ in range(3):
            await db.execute("UPDATE privacy_jobs SET note = 'a run goes by' WHERE kind = 'erase'")

            async def note_emptied() -> bool:
                note = await db.fetchval("SELECT note FROM privacy_jobs WHERE kind = 'erase'")
                return bool(note == "")

            await eventually(note_emptied, what="a retention run emptying the note")
    finally:
        await app.stop()
    jobs = await db.fetch("SELECT kind, state, requested_by FROM privacy_jobs")
    assert [(j["kind"], j["state"], j["requested_by"]) for j in jobs] == [
        ("erase", "succeeded", "retention")
    ]
    assert (
        await db.fetchval("SELECT count(*) FROM usage_events WHERE device_id ~ '^device-[0-9]+$'")
        == 2
    )
    actions = await db.fetch("SELECT action FROM privacy_audit_log WHERE tenant_id = 'acme'")
    assert actions[0]["action"] == "retention.policy_set"
