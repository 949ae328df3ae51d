"""The suppression sweep against a real PostgreSQL: people an integration brings back
after their erasure are erased again by ordinary jobs (actor `suppression`), and
nobody else is touched."""

from __future__ import annotations

import asyncio

import asyncpg
from prometheus_client import REGISTRY

from server import job_plan, suppression_sweep, suppressions, tenant_keys
from server.job_model import Job, JobState, ReasonCode
from server.subjects import SubjectKind
from server.suppressions import Identifier, IdentifierKind
from tests import factories
from tests.helpers.workers import JobRunner

EMAIL, PHONE = IdentifierKind.EMAIL, IdentifierKind.PHONE
JANE_EMAIL = "jane.doe@example.com"
JANE_PHONE = "+1 207 946 0958"
LATE_ARRIVALS = "privacy_late_arrivals_erased_total"


async def _suppress(
    db: asyncpg.Connection,
    worker: JobRunner,
    tenant: str,
    identifiers: list[Identifier],
    job: Job | None = None,
) -> None:
    """Entries as an erasure (or Suppress, without a job) makes them."""
    key = await tenant_keys.tenant_key(db, tenant, worker.keyring)
    region = await job_plan.tenant_region(db, tenant, worker.settings.default_phone_region)
    found = suppressions.hashed(identifiers, key, region)
    assert not found.invalid
    entries = [(h, k) for h, k in zip(found.hashes, found.kinds, strict=True) if h is not None]
    await suppressions.add(
        db,
        tenant,
        entries,
        reason_code="data_subject_request",
        actor="tester",
        job_id=job.id if job else None,
    )


async def _sweep(worker: JobRunner) -> list[Job] | None:
    async with worker.pool.acquire() as conn:
        return await suppression_sweep.run(
            conn,
            worker.registry,
            keyring=worker.keyring,
            deadline=worker.settings.deadline,
            default_region=worker.settings.default_phone_region,
        )


async def _erased_jane(db: asyncpg.Connection, worker: JobRunner, tenant: str) -> None:
    """Jane erased at her request: her email and number are suppressed."""
    jane = await factories.contact(db, tenant, "Jane", "Doe", phone=JANE_PHONE, messages=2)
    job = await worker.erase(
        tenant, SubjectKind.EMAIL, jane.email, reason_code=ReasonCode.DATA_SUBJECT_REQUEST
    )
    # The erasure suppressed her email and number when it was accepted.
    entries = await db.fetch(
        "SELECT kind FROM privacy_suppressions WHERE tenant_id = $1 AND job_id = $2", tenant, job.id
    )
    assert sorted(r["kind"] for r in entries) == ["email", "phone"]
    [done] = await worker.run(job.id)
    assert done.state == JobState.SUCCEEDED


def _late_arrivals(tenant: str) -> float:
    return REGISTRY.get_sample_value(LATE_ARRIVALS, {"tenant": tenant}) or 0.0


async def _insert_contact(
    db: asyncpg.Connection, tenant: str, first: str, email: str | None, phone: str | None
) -> int:
    """A contact as an integration writes one: plain SQL."""
    contact_id: int = await db.fetchval(
        "INSERT INTO contacts (tenant_id, first_name, last_name, email, phone) "
        "VALUES ($1, $2, 'Doe', $3, $4) RETURNING id",
        tenant,
        first,
        email,
        phone,
    )
    return contact_id


async def test_a_contact_brought_back_is_erased_and_look_alikes_are_not(
    db: asyncpg.Connection, worker: JobRunner
) -> None:
    tenant = await factories.tenant(db, "acme")
    await _erased_jane(db, worker, tenant)
    # Another tenant has the very same person, not suppressed there (it has entries
    # of its own, so the sweep looks at it).
    other = await factories.tenant(db, "globex")
    theirs = await _insert_contact(db, other, "Jane", JANE_EMAIL, JANE_PHONE)
    await _suppress(db, worker, other, [Identifier(EMAIL, "someone@globex.example")])
    # An integration that ignores CheckSuppression brings Jane back, written its way,
    # with a message from her.
    back = await _insert_contact(db, tenant, "Jane", "  Jane.DOE@Example.COM ", None)
    await db.execute(
        "INSERT INTO messages (tenant_id, channel, contact_id, direction, sender, body) "
        "VALUES ($1, 'email', $2, 'inbound', $3, 'Hi, I am back: jane.doe@example.com')",
        tenant,
        back,
        "Jane.Doe@example.com",
    )
    # A colleague's thread that Jane is cc'd on: the colleague is no late arrival.
    colleague = await _insert_contact(db, tenant, "Colleague", "pat@acme.example", None)
    await db.execute(
        "INSERT INTO messages (tenant_id, channel, contact_id, direction, sender, recipients, "
        "cc, body) VALUES ($1, 'email', $2, 'inbound', 'pat@acme.example', "
        "'{sales@acme.example}', '{JANE.DOE@example.com}', 'Looping in Jane')",
        tenant,
        colleague,
    )
    look_alikes = [
        colleague,
        await _insert_contact(db, tenant, "Other", "john.doe@example.com", None),
        await _insert_contact(db, tenant, "Elsewhere", "jane.doe@example.org", None),
        await _insert_contact(db, tenant, "Digit", None, "+1 207 946 0959"),
        await _insert_contact(db, tenant, "Abroad", None, "+44 20 7946 0958"),
    ]
    before = _late_arrivals(tenant)

    jobs = await _sweep(worker)

    assert jobs is not None
    [job] = jobs
    assert _late_arrivals(tenant) == before + 1
    requested = await db.fetchrow(
        "SELECT actor, details FROM privacy_audit_log WHERE job_id = $1 AND action = $2",
        job.id,
        "erase.requested",
    )
    assert requested is not None
    assert requested["actor"] == "suppression"
    row = await db.fetchrow(
        "SELECT contact_ids, requested_by, reason_code, deadline - created_at AS limit "
        "FROM privacy_jobs WHERE id = $1",
        job.id,
    )
    assert row is not None
    assert (row["contact_ids"], row["requested_by"]) == ([back], "suppression")
    assert row["reason_code"] == "data_subject_request"  # the entry's own reason
    assert row["limit"] == worker.settings.deadline  # as for any erasure

    # A second pass while the job is open submits nothing more.
    assert await _sweep(worker) == []

    [done] = await worker.run(job.id)
    assert done.state == JobState.SUCCEEDED
    assert (
        await db.fetchval(
            "SELECT count(*) FROM contacts "
            "WHERE tenant_id = $1 AND email ILIKE '%jane.doe@example.com%'",
            tenant,
        )
        == 0
    )
    assert (
        await db.fetchval(
            "SELECT count(*) FROM messages WHERE tenant_id = $1 AND "
            "concat_ws(' ', sender, body, array_to_string(recipients || cc || bcc, ' ')) "
            "ILIKE '%jane.doe@example.com%'",
            tenant,
        )
        == 0
    )
    # The colleague's message stays, with Jane's address redacted from it.
    assert (
        await db.fetchval(
            "SELECT count(*) FROM messages WHERE tenant_id = $1 AND contact_id = $2",
            tenant,
            colleague,
        )
        == 1
    )
    # The look-alikes and the other tenant's Jane are all there, as they were.
    assert await db.fetchval(
        "SELECT count(*) FROM contacts WHERE tenant_id = $1 AND id = ANY($2)", tenant, look_alikes
    ) == len(look_alikes)
    assert (
        await db.fetchval(
            "SELECT email FROM contacts WHERE tenant_id = $1 AND id = $2", other, theirs
        )
        == JANE_EMAIL
    )
    # And after the erasure, nothing is left to sweep.
    assert await _sweep(worker) == []
    swept = await db.fetch("SELECT tenant_id FROM privacy_suppression_sweeps ORDER BY 1")
    assert [r["tenant_id"] for r in swept] == ["acme", "globex"]


async def test_a_contact_changed_to_a_suppressed_number_is_erased(
    db: asyncpg.Connection, worker: JobRunner
) -> None:
    tenant = await factories.tenant(db, "acme")
    await _erased_jane(db, worker, tenant)
    someone = await _insert_contact(db, tenant, "Someone", None, "+1 207 555 0100")
    assert await _sweep(worker) == []
    # The integration updates the row to Jane's number, written the national way.
    await db.execute("UPDATE contacts SET phone = '(207) 946-0958' WHERE id = $1", someone)

    jobs = await _sweep(worker)

    assert jobs is not None
    [job] = jobs
    [done] = await worker.run(job.id)
    assert done.state == JobState.SUCCEEDED
    assert await db.fetchval("SELECT count(*) FROM contacts WHERE id = $1", someone) == 0


async def test_a_user_with_an_erased_email_is_erased_and_billing_contacts_never_count(
    db: asyncpg.Connection, worker: JobRunner
) -> None:
    tenant = await factories.tenant(db, "acme")
    await _erased_jane(db, worker, tenant)
    back = await db.fetchval(
        "INSERT INTO users (tenant_id, email, name) VALUES ($1, $2, 'Jane') RETURNING id",
        tenant,
        "JANE.DOE@example.com",
    )
    # Another account whose billing contact is Jane's number (she did its books): the
    # account is someone else's, and stays.
    client = await db.fetchval(
        "INSERT INTO users (tenant_id, email, name) VALUES ($1, 'j.roe@acme.example', 'J') "
        "RETURNING id",
        tenant,
    )
    await db.execute(
        "INSERT INTO billing_contacts (tenant_id, user_id, name, email, phone) "
        "VALUES ($1, $2, 'J', $3, $4)",
        tenant,
        client,
        JANE_EMAIL,
        "+12079460958",
    )

    jobs = await _sweep(worker)

    assert jobs is not None
    [job] = jobs
    assert await db.fetchval("SELECT user_ids FROM privacy_jobs WHERE id = $1", job.id) == [back]
    [done] = await worker.run(job.id)
    assert done.state == JobState.SUCCEEDED
    assert await db.fetchval("SELECT count(*) FROM users WHERE id = $1", back) == 0
    assert await db.fetchval("SELECT count(*) FROM users WHERE id = $1", client) == 1
    assert (
        await db.fetchval("SELECT count(*) FROM billing_contacts WHERE user_id = $1", client) == 1
    )


async def test_entries_of_an_open_or_cancelled_erasure_are_not_swept(
    db: asyncpg.Connection, worker: JobRunner
) -> None:
    """Until its erasure ran, a subject's rows are not late: its own job erases them
    (an account deletion's grace keeps them), and a cancelled job erased nothing."""
    tenant = await factories.tenant(db, "acme")
    jane = await factories.contact(db, tenant, "Jane", "Doe", phone=JANE_PHONE)
    job = await worker.erase(tenant, SubjectKind.CONTACT_ID, str(jane.id))
    await _suppress(db, worker, tenant, [Identifier(EMAIL, JANE_EMAIL)], job)
    # Jane as a second contact, which her own job (of one contact id) does not cover.
    await _insert_contact(db, tenant, "Jane", JANE_EMAIL, None)

    assert await _sweep(worker) == []
    await db.execute("UPDATE privacy_jobs SET state = 'cancelled' WHERE id = $1", job.id)
    assert await _sweep(worker) == []


async def test_one_sweep_at_a_time(db: asyncpg.Connection, worker: JobRunner) -> None:
    tenant = await factories.tenant(db, "acme")
    await _erased_jane(db, worker, tenant)
    await _insert_contact(db, tenant, "Jane", JANE_EMAIL, None)
    # Another process is sweeping: this one does nothing.
    await db.execute("SELECT pg_advisory_lock($1)", suppression_sweep.LOCK_KEY)
    assert await _sweep(worker) is None
    assert await db.fetchval("SELECT count(*) FROM privacy_jobs") == 1  # Jane's erasure
    await db.execute("SELECT pg_advisory_unlock($1)", suppression_sweep.LOCK_KEY)
    # Two at once: one job between them.
    results = await asyncio.gather(_sweep(worker), _sweep(worker))
    assert sum(len(r or []) for r in results) == 1
    assert await db.fetchval("SELECT count(*) FROM privacy_jobs") == 2
