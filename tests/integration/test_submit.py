"""submission.submit answers with the job as it was stored, without reading it back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from anonymizers.registry import default_registry
from server import holds, job_model, submission
from server.job_model import JobKind, JobRequest, JobState, ReasonCode
from server.keyring import Keyring
from server.subjects import Subject, SubjectKind
from tests import factories

DEADLINE = timedelta(days=30)


def _request(tenant: str, value: str, kind: SubjectKind, **extra: object) -> JobRequest:
    fields: dict[str, object] = {
        "tenant_id": tenant,
        "kind": JobKind.ERASE,
        "subject": Subject(kind, value),
        "data_types": (),
        "dry_run": False,
        "idempotency_key": None,
        "reason_code": ReasonCode.OTHER,
        "note": "test",
        "requested_by": "tester",
        **extra,
    }
    return JobRequest(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "case", ["pending", "dry_run", "scheduled", "held", "child", "whole_tenant", "filtered"]
)
async def test_the_answer_is_what_get_reads_back(
    db: asyncpg.Connection, keyring: Keyring, case: str
) -> None:
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe", messages=3)
    registry = default_registry()
    extra: dict[str, object] = {}
    subject_kind, value = SubjectKind.EMAIL, jane.email
    if case == "dry_run":
        extra["dry_run"] = True
    elif case == "scheduled":
        extra["not_before"] = datetime.now(UTC) + timedelta(days=2)
    elif case == "held":
        await holds.set_hold(
            db,
            tenant,
            Subject(SubjectKind.EMAIL, jane.email),
            "case",
            "t",
            region="US",
            keyring=keyring,
        )
    elif case == "child":
        await db.execute(
            "UPDATE contacts SET birthday = current_date - 3650 WHERE id = $1", jane.id
        )
    elif case == "whole_tenant":
        subject_kind, value = SubjectKind.WHOLE_TENANT, tenant
    elif case == "filtered":
        extra["data_types"] = ("messages", "contacts")
        extra["idempotency_key"] = "k-1"
    request = _request(tenant, value, subject_kind, **extra)
    answer = await submission.submit(
        db, registry, request, deadline=DEADLINE, default_region="US", keyring=keyring
    )
    stored = await job_model.get(db, answer.id)
    assert answer == stored
    expected = {
        "pending": JobState.PENDING,
        "dry_run": JobState.SUCCEEDED,
        "scheduled": JobState.SCHEDULED,
        "held": JobState.HELD,
        "child": JobState.PENDING,
        "whole_tenant": JobState.PENDING,
        "filtered": JobState.PENDING,
    }[case]
    assert answer.state is expected
    if case == "child":
        assert answer.priority == job_model.CHILD_PRIORITY
    if case == "held":
        assert answer.hold_ids
    # A retry with the same key answers with the same job.
    if request.idempotency_key:
        again = await submission.submit(
            db, registry, request, deadline=DEADLINE, default_region="US", keyring=keyring
        )
        assert again == stored


async def test_the_first_submission_of_a_tenant_makes_its_key_once(
    db: asyncpg.Connection,
    keyring: Keyring,
) -> None:
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe")
    registry = default_registry()
    request = _request(tenant, jane.email, SubjectKind.EMAIL, dry_run=True)
    first = await submission.submit(
        db, registry, request, deadline=DEADLINE, default_region="US", keyring=keyring
    )
    second = await submission.submit(
        db, registry, request, deadline=DEADLINE, default_region="US", keyring=keyring
    )
    assert first.subject_hash == second.subject_hash
    assert await db.fetchval("SELECT count(*) FROM privacy_tenant_keys") == 1
    with pytest.raises(Exception, match="no tenant"):
        await submission.submit(
            db,
            registry,
            _request("nobody", jane.email, SubjectKind.EMAIL),
            deadline=DEADLINE,
            default_region="US",
            keyring=keyring,
        )
    assert await db.fetchval("SELECT count(*) FROM privacy_tenant_keys") == 1
    assert isinstance(first.id, uuid.UUID)


async def test_the_commit_without_flush_stays_inside_the_submission(
    db: asyncpg.Connection,
    keyring: Keyring,
) -> None:
    """The submission's own commit skips the fsync (the chain head is not held across
    it); the setting must not outlive the transaction on a pooled connection."""
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe")
    before = await db.fetchval("SHOW synchronous_commit")
    job = await submission.submit(
        db,
        default_registry(),
        _request(tenant, jane.email, SubjectKind.EMAIL),
        deadline=DEADLINE,
        default_region="US",
        keyring=keyring,
    )
    assert await db.fetchval("SHOW synchronous_commit") == before == "on"
    assert await db.fetchval("SELECT count(*) FROM privacy_jobs WHERE id = $1", job.id) == 1


async def test_inside_a_callers_transaction_the_commit_stays_durable(
    db: asyncpg.Connection,
    keyring: Keyring,
) -> None:
    """Retention submits inside its own transaction: that commit must wait for the
    flush as usual, since nothing flushes after it."""
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe")
    async with db.transaction():
        await submission.submit(
            db,
            default_registry(),
            _request(tenant, jane.email, SubjectKind.EMAIL),
            deadline=DEADLINE,
            default_region="US",
            keyring=keyring,
        )
        assert await db.fetchval("SHOW synchronous_commit") == "on"
