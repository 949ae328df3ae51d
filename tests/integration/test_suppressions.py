"""The suppression list over a real database: what counts as the same identifier,
and that one tenant's entries never answer for another."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from server import jobs, suppression_list, suppressions, tenant_keys
from server.errors import InvalidArgument, NotFound
from server.job_model import JobState, ReasonCode
from server.keyring import Keyring
from server.subjects import SubjectKind
from server.suppressions import Identifier, IdentifierKind
from tests import factories
from tests.helpers.workers import JobRunner

EMAIL, PHONE = IdentifierKind.EMAIL, IdentifierKind.PHONE


def email(value: str) -> Identifier:
    return Identifier(EMAIL, value)


def phone(value: str) -> Identifier:
    return Identifier(PHONE, value)


@pytest.mark.parametrize(
    ("identifier", "region", "normal"),
    [
        (email("Jane.Doe@Example.COM"), "US", "jane.doe@example.com"),
        (email("  jane.doe@example.com\u0020"), "US", "jane.doe@example.com"),
        (email("JANE+news@example.com"), "US", "jane+news@example.com"),  # kept distinct
        (phone("(207) 946-0958"), "US", "+12079460958"),
        (phone("+1 207.946.0958"), "US", "+12079460958"),
        (phone("001 207 946 0958"), "US", "+12079460958"),
        (phone("020 7946 0958"), "GB", "+442079460958"),
        (phone("+44 (0)20 7946 0958"), "US", "+442079460958"),
        (email("not-an-email"), "US", None),
        (email("jane@doe@example.com"), "US", None),
        (email("jane.doe@example.com\n"), "US", "jane.doe@example.com"),  # stripped
        (email("jane\x00@example.com"), "US", None),
        (phone("call me"), "US", None),
        (phone("12"), "US", None),
        (phone("207 946 0958\x00"), "US", None),
        (phone("1" * 80), "US", None),
    ],
)
def test_identifiers_are_compared_normalized(
    identifier: Identifier, region: str, normal: str | None
) -> None:
    assert suppressions.normalized(identifier, region) == normal


async def _tenant_with_key(
    db: asyncpg.Connection, keyring: Keyring, tenant: str, region: str | None = None
) -> bytes:
    await factories.tenant(db, tenant)
    if region:
        await db.execute(
            "INSERT INTO privacy_tenant_settings (tenant_id, phone_region) VALUES ($1, $2)",
            tenant,
            region,
        )
    return await tenant_keys.tenant_key(db, tenant, keyring)


async def _check(
    db: asyncpg.Connection, keyring: Keyring, tenant: str, *identifiers: Identifier
) -> list[bool]:
    checked = await suppression_list.check(
        db, tenant, identifiers, keyring=keyring, default_region="US"
    )
    return checked.suppressed


async def _suppress(
    db: asyncpg.Connection, keyring: Keyring, tenant: str, *identifiers: Identifier
) -> int:
    return await suppression_list.suppress(
        db,
        tenant,
        identifiers,
        reason_code=ReasonCode.DATA_SUBJECT_REQUEST,
        actor="tester",
        keyring=keyring,
        default_region="US",
    )


async def test_the_same_person_written_differently_is_suppressed_a_look_alike_is_not(
    db: asyncpg.Connection, keyring: Keyring
) -> None:
    await _tenant_with_key(db, keyring, "acme", region="GB")
    added = await _suppress(
        db, keyring, "acme", email("Jane.Doe@example.com"), phone("020 7946 0958")
    )
    assert added == 2
    assert (
        await _check(
            db,
            keyring,
            "acme",
            email("jane.doe@example.com"),
            email(" JANE.DOE@EXAMPLE.COM "),
            phone("+44 20 7946 0958"),
            phone("(020) 7946-0958"),
            phone("0044 20 7946 0958"),
        )
        == [True] * 5
    )
    assert (
        await _check(
            db,
            keyring,
            "acme",
            email("jane.doe@example.org"),  # another domain
            email("jane+news@example.com"),  # a tag: another address, not guessed
            email("jane.doe+x@example.com"),
            email("janedoe@example.com"),  # a provider may ignore dots; we do not guess
            phone("020 7946 0959"),  # one digit off
            phone("+1 207 946 0958"),  # the same digits in another country
        )
        == [False] * 6
    )


async def test_suppressing_again_adds_nothing_and_lifting_removes(
    db: asyncpg.Connection, keyring: Keyring
) -> None:
    await _tenant_with_key(db, keyring, "acme")
    assert await _suppress(db, keyring, "acme", email("a@b.co"), email("A@B.CO")) == 1
    assert await _suppress(db, keyring, "acme", email("a@b.co")) == 0
    removed = await suppression_list.unsuppress(
        db,
        "acme",
        [email("A@b.co"), email("never@b.co")],
        reason_code=ReasonCode.OTHER,
        actor="tester",
        keyring=keyring,
        default_region="US",
    )
    assert removed == 1
    assert await _check(db, keyring, "acme", email("a@b.co")) == [False]
    actions = await db.fetch(
        "SELECT action, details FROM privacy_audit_log WHERE tenant_id = 'acme' ORDER BY seq"
    )
    assert [a["action"] for a in actions] == [
        "suppression.added",
        "suppression.added",
        "suppression.removed",
    ]
    assert "a@b.co" not in str([a["details"] for a in actions]).lower()


async def test_another_tenants_entries_never_match_and_hashes_differ(
    db: asyncpg.Connection, keyring: Keyring
) -> None:
    acme_key = await _tenant_with_key(db, keyring, "acme")
    globex_key = await _tenant_with_key(db, keyring, "globex")
    await _suppress(db, keyring, "acme", email("jane@example.com"))
    assert await _check(db, keyring, "globex", email("jane@example.com")) == [False]
    assert await _check(db, keyring, "acme", email("jane@example.com")) == [True]
    acme = suppressions.identifier_hash(acme_key, EMAIL, "jane@example.com")
    globex = suppressions.identifier_hash(globex_key, EMAIL, "jane@example.com")
    assert acme != globex
    stored = await db.fetch("SELECT tenant_id, identifier_hash FROM privacy_suppressions")
    assert [(r["tenant_id"], bytes(r["identifier_hash"])) for r in stored] == [("acme", acme)]
    # Even a globex hash that happens to be acme's is looked for in globex only.
    assert await suppressions.check(db, "globex", [acme]) == [False]


async def test_a_suppression_with_an_invalid_identifier_writes_nothing(
    db: asyncpg.Connection, keyring: Keyring
) -> None:
    await factories.tenant(db, "acme")  # no key yet: a refusal makes none either
    with pytest.raises(InvalidArgument) as refused:
        await _suppress(db, keyring, "acme", email("jane@example.com"), phone("call me"))
    assert refused.value.field == "identifiers[1].phone"
    for table in ("privacy_suppressions", "privacy_audit_log", "privacy_tenant_keys"):
        assert await db.fetchval(f"SELECT count(*) FROM {table}") == 0


async def test_a_check_of_a_tenant_without_a_key_writes_nothing(
    db: asyncpg.Connection, keyring: Keyring
) -> None:
    await factories.tenant(db, "acme")
    checked = await suppression_list.check(
        db, "acme", [email("jane@example.com"), phone("nope")], keyring=keyring, default_region="US"
    )
    assert checked == suppression_list.Checked([False, False], (1,))
    assert await db.fetchval("SELECT count(*) FROM privacy_tenant_keys") == 0
    with pytest.raises(NotFound):
        await _check(db, keyring, "ghost", email("jane@example.com"))


async def test_drop_tenant_forgets_its_entries_only(
    db: asyncpg.Connection, keyring: Keyring
) -> None:
    await _tenant_with_key(db, keyring, "acme")
    await _tenant_with_key(db, keyring, "globex")
    await _suppress(db, keyring, "acme", email("jane@example.com"))
    await _suppress(db, keyring, "globex", email("jane@example.com"))
    await suppressions.drop_tenant(db, "acme")
    tenants = await db.fetch("SELECT tenant_id FROM privacy_suppressions")
    assert [r["tenant_id"] for r in tenants] == ["globex"]


async def test_an_erasure_called_off_lifts_the_suppression_it_made(
    db: asyncpg.Connection, worker: JobRunner
) -> None:
    # An account deletion in its grace period, undone: the person was not erased
    # and must not be kept out by the entries the Erase made when it was accepted.
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe")
    later = datetime.now(UTC) + timedelta(days=7)
    job = await worker.erase(tenant, SubjectKind.EMAIL, jane.email, not_before=later)
    own = "SELECT count(*) FROM privacy_suppressions WHERE tenant_id = $1 AND job_id = $2"
    assert await db.fetchval(own, tenant, job.id) == 2  # her email and her number
    # An entry Suppress made for her too (without a job) is not the erasure's.
    key = await tenant_keys.tenant_key(db, tenant, worker.keyring)
    by_hand = suppressions.hashed([Identifier(IdentifierKind.EMAIL, "jd@else.example")], key, "US")
    await suppressions.add(
        db,
        tenant,
        [(h, k) for h, k in zip(by_hand.hashes, by_hand.kinds, strict=True) if h is not None],
        reason_code="data_subject_request",
        actor="tester",
    )

    cancelled = await jobs.cancel(db, job.id, "tester")

    assert cancelled.state == JobState.CANCELLED
    assert await db.fetchval(own, tenant, job.id) == 0
    assert await db.fetchval("SELECT count(*) FROM privacy_suppressions") == 1
    details = await db.fetchval(
        "SELECT details FROM privacy_audit_log WHERE job_id = $1 AND action = 'job.cancelled'",
        job.id,
    )
    assert json.loads(details)["suppressions_lifted"] == 2
