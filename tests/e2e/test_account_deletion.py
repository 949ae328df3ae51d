"""The account-deletion workflow through the client against a real server and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from atomicrm.privacy.v1 import privacy_pb2 as pb
from clients.account_deletion import AccountDeletion
from clients.client import PrivacyClient
from tests import factories


async def _owner(db: asyncpg.Connection, tenant: str, email: str) -> int:
    user_id: int = await db.fetchval(
        "INSERT INTO users (tenant_id, email, name, is_owner, closed_at) "
        "VALUES ($1, $2, 'Owner', true, now()) RETURNING id",
        tenant,
        email,
    )
    await db.execute(
        "INSERT INTO usage_events (tenant_id, user_id, event) VALUES ($1, $2, 'login')",
        tenant,
        user_id,
    )
    return user_id


async def test_a_closed_account_is_erased_after_its_grace_and_within_30_days(
    db: asyncpg.Connection, client: PrivacyClient
) -> None:
    await factories.tenant(db)
    owner = await _owner(db, "acme", "owner@acme.example")
    other = await _owner(db, "acme", "second@acme.example")
    workflow = AccountDeletion(client, grace=timedelta(seconds=1))
    closed_at = datetime.now(UTC)
    scheduled = await workflow.schedule("acme", owner, closed_at=closed_at)
    job = scheduled.account_job
    assert scheduled.tenant_job is None
    assert job.state == pb.JOB_STATE_SCHEDULED
    assert job.not_before.ToDatetime(tzinfo=UTC) - closed_at == pytest.approx(
        timedelta(seconds=1), abs=timedelta(milliseconds=1)
    )
    assert job.deadline.ToDatetime(tzinfo=UTC) - closed_at == pytest.approx(
        timedelta(days=30), abs=timedelta(milliseconds=1)
    )
    # The account service retries (a timeout, a redeploy): the same job, not a second one.
    again = await workflow.schedule("acme", owner, closed_at=closed_at)
    assert again.account_job.id == job.id

    outcome = await asyncio.wait_for(workflow.wait(scheduled), 30)
    assert outcome.succeeded, outcome.summary()
    assert outcome.summary().startswith("account deleted: job ")
    remaining = await db.fetch("SELECT id FROM users ORDER BY id")
    assert [r["id"] for r in remaining] == [other]
    assert await db.fetchval("SELECT count(*) FROM usage_events WHERE user_id = $1", owner) == 0
    assert await db.fetchval("SELECT count(*) FROM privacy_jobs") == 1


async def test_the_last_owner_takes_the_tenant_and_can_change_their_mind(
    db: asyncpg.Connection, client: PrivacyClient
) -> None:
    await factories.tenant(db)
    owner = await _owner(db, "acme", "owner@acme.example")
    jane = await factories.contact(db, "acme", "Jane", "Doe", messages=2)
    workflow = AccountDeletion(client)  # the default grace: a week
    scheduled = await workflow.schedule("acme", owner, last_owner=True)
    assert scheduled.tenant_job is not None
    assert scheduled.tenant_job.state == pb.JOB_STATE_SCHEDULED
    assert scheduled.tenant_job.priority == 200

    undone = await workflow.undo(scheduled)
    assert [j.state for j in undone] == [pb.JOB_STATE_CANCELLED] * 2
    assert await db.fetchval("SELECT count(*) FROM users") == 1
    assert await db.fetchval("SELECT count(*) FROM messages WHERE contact_id = $1", jane.id) == 2
    outcome = await workflow.wait(scheduled)
    assert not outcome.succeeded
    assert outcome.summary().startswith("account deletion did not complete")


def test_a_grace_period_longer_than_the_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="grace period"):
        AccountDeletion(None, grace=timedelta(days=31))  # type: ignore[arg-type]
