"""The suppression list through the real server: an Erase suppresses at once, the
four RPCs check, add, lift and list keyed hashes, and nothing of an identifier is
stored, answered or audited."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, TypeAlias

import asyncpg
import grpc
import pytest

from atomicrm.privacy.v1 import privacy_pb2 as pb
from atomicrm.privacy.v1 import privacy_pb2_grpc
from clients.client import PrivacyClient, open_channel, subject
from server import credentials
from server.app import App
from server.config import Settings
from server.credentials import Scope
from tests import factories
from tests.helpers.worlds import pg_dump

Stub: TypeAlias = "privacy_pb2_grpc.PrivacyServiceAsyncStub"
PHONE = "+1 (207) 946-0958"  # Jane's, as the CRM holds it


def email(value: str) -> pb.Identifier:
    return pb.Identifier(email=value)


def phone(value: str) -> pb.Identifier:
    return pb.Identifier(phone=value)


@pytest.fixture
async def server(no_workers: Settings, db: asyncpg.Connection) -> AsyncIterator[App]:
    """A server that accepts jobs and runs none: a suppression is there before any
    job has done anything."""
    await factories.tenant(db, "acme")
    await factories.tenant(db, "globex")
    async with App(no_workers) as app:
        yield app


@pytest.fixture
async def stub(server: App) -> AsyncIterator[Stub]:
    async with open_channel(f"127.0.0.1:{server.port}", token=server.dev_token) as channel:
        yield privacy_pb2_grpc.PrivacyServiceStub(channel)


async def _refused(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call
    return refused.value


async def _check(stub: Stub, tenant: str, *identifiers: pb.Identifier) -> list[bool]:
    answer = await stub.CheckSuppression(
        pb.CheckSuppressionRequest(tenant_id=tenant, identifiers=identifiers)
    )
    return list(answer.suppressed)


async def test_an_erase_suppresses_the_subject_at_once_written_any_way(
    stub: Stub, db: asyncpg.Connection
) -> None:
    jane = await factories.contact(db, "acme", "Jane", "Doe", phone=PHONE)
    job = await stub.Erase(
        pb.EraseRequest(
            tenant_id="acme",
            subject=pb.Subject(email=jane.email),
            reason_code=pb.REASON_CODE_DATA_SUBJECT_REQUEST,
        )
    )
    assert job.state == pb.JOB_STATE_PENDING  # no worker: nothing done yet
    answer = await stub.CheckSuppression(
        pb.CheckSuppressionRequest(
            tenant_id="acme",
            identifiers=[
                email(jane.email.upper()),
                phone("207.946.0958"),
                phone("+12079460958"),
                email("jane.doe+crm@example.com"),  # another address
                email("no email"),
            ],
        )
    )
    assert list(answer.suppressed) == [True, True, True, False, False]
    assert list(answer.invalid) == [4]
    # The entries name the job and its reason; the request's audit entry counts them.
    listed = await stub.ListSuppressions(pb.ListSuppressionsRequest(tenant_id="acme"))
    assert {(s.kind, s.job_id, s.reason_code) for s in listed.suppressions} == {
        ("email", job.id, pb.REASON_CODE_DATA_SUBJECT_REQUEST),
        ("phone", job.id, pb.REASON_CODE_DATA_SUBJECT_REQUEST),
    }
    details = await db.fetchval(
        "SELECT details FROM privacy_audit_log WHERE action = 'erase.requested'"
    )
    assert json.loads(details)["suppressed"] == 2


@pytest.mark.parametrize("flag", ["skip_suppression", "dry_run"])
async def test_an_erase_that_skips_suppression_or_a_dry_run_suppresses_nothing(
    stub: Stub, db: asyncpg.Connection, flag: str
) -> None:
    jane = await factories.contact(db, "acme", "Jane", "Doe", phone=PHONE)
    request = pb.EraseRequest(tenant_id="acme", subject=pb.Subject(email=jane.email))
    setattr(request, flag, True)
    await stub.Erase(request)
    assert await _check(stub, "acme", email(jane.email), phone(PHONE)) == [False, False]
    assert await db.fetchval("SELECT count(*) FROM privacy_suppressions") == 0


async def test_an_anonymize_suppresses_nothing(stub: Stub, db: asyncpg.Connection) -> None:
    jane = await factories.contact(db, "acme", "Jane", "Doe", phone=PHONE)
    await stub.Anonymize(
        pb.AnonymizeRequest(tenant_id="acme", subject=pb.Subject(email=jane.email))
    )
    assert await _check(stub, "acme", email(jane.email)) == [False]


async def test_the_idempotency_key_tells_skip_suppression_apart(
    stub: Stub, db: asyncpg.Connection
) -> None:
    jane = await factories.contact(db, "acme", "Jane", "Doe")
    request = pb.EraseRequest(
        tenant_id="acme", subject=pb.Subject(email=jane.email), idempotency_key="k1"
    )
    first = await stub.Erase(request)
    assert (await stub.Erase(request)).id == first.id
    request.skip_suppression = True
    refused = await _refused(stub.Erase(request))
    assert refused.code() is grpc.StatusCode.ALREADY_EXISTS


@pytest.mark.parametrize(
    ("method", "request_", "field"),
    [
        (
            "CheckSuppression",
            pb.CheckSuppressionRequest(
                tenant_id="acme", identifiers=[email(f"p{i}@example.com") for i in range(1001)]
            ),
            "identifiers",
        ),
        (
            "Suppress",
            pb.SuppressRequest(
                tenant_id="acme", identifiers=[email(f"p{i}@example.com") for i in range(1001)]
            ),
            "identifiers",
        ),
        (
            "CheckSuppression",
            pb.CheckSuppressionRequest(
                tenant_id="acme", identifiers=[email("a@b.co"), pb.Identifier()]
            ),
            "identifiers[1]",
        ),
        (
            "Suppress",
            pb.SuppressRequest(tenant_id="acme", identifiers=[email("a@b.co"), phone("call me")]),
            "identifiers[1].phone",
        ),
        ("Suppress", pb.SuppressRequest(tenant_id="acme"), "identifiers"),
        (
            "Unsuppress",
            pb.UnsuppressRequest(tenant_id="acme", identifiers=[email("a@b.co")]),
            "reason_code",
        ),
        (
            "ListSuppressions",
            pb.ListSuppressionsRequest(tenant_id="acme", page_size=1001),
            "page_size",
        ),
        (
            "ListSuppressions",
            pb.ListSuppressionsRequest(tenant_id="acme", page_token="x"),
            "page_token",
        ),
        ("CheckSuppression", pb.CheckSuppressionRequest(tenant_id="a b"), "tenant_id"),
    ],
)
async def test_bad_requests_are_invalid_argument_naming_the_field_and_write_nothing(
    stub: Stub, db: asyncpg.Connection, method: str, request_: Any, field: str
) -> None:
    refused = await _refused(getattr(stub, method)(request_))
    assert refused.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert (refused.details() or "").startswith(f"{field}: ")
    for table in ("privacy_suppressions", "privacy_audit_log", "privacy_tenant_keys"):
        assert await db.fetchval(f"SELECT count(*) FROM {table}") == 0


async def test_an_unknown_tenant_is_not_found(stub: Stub) -> None:
    for call in (
        stub.CheckSuppression(pb.CheckSuppressionRequest(tenant_id="ghost")),
        stub.Suppress(pb.SuppressRequest(tenant_id="ghost", identifiers=[email("a@b.co")])),
        stub.ListSuppressions(pb.ListSuppressionsRequest(tenant_id="ghost")),
    ):
        assert (await _refused(call)).code() is grpc.StatusCode.NOT_FOUND


async def test_suppress_check_unsuppress_audited_with_hashes_only(
    stub: Stub, db: asyncpg.Connection, db_url: str
) -> None:
    never_seen = email("Zed.Never@Example.NET")  # in no row of the CRM
    added = await stub.Suppress(
        pb.SuppressRequest(
            tenant_id="acme",
            identifiers=[never_seen, phone("(207) 555-0143")],
            reason_code=pb.REASON_CODE_DATA_SUBJECT_REQUEST,
        )
    )
    assert added.added == 2
    assert await _check(stub, "acme", email("zed.never@example.net")) == [True]
    removed = await stub.Unsuppress(
        pb.UnsuppressRequest(
            tenant_id="acme",
            identifiers=[email("ZED.NEVER@example.net")],
            reason_code=pb.REASON_CODE_OTHER,
        )
    )
    assert removed.removed == 1
    assert await _check(stub, "acme", never_seen, phone("+1 207 555 0143")) == [False, True]
    entries = await db.fetch(
        "SELECT action, actor, details FROM privacy_audit_log WHERE tenant_id = 'acme' ORDER BY seq"
    )
    assert [(e["action"], e["actor"]) for e in entries] == [
        ("suppression.added", "dev"),
        ("suppression.removed", "dev"),
    ]
    added_details, removed_details = (json.loads(e["details"]) for e in entries)
    assert added_details["count"] == 2
    assert added_details["reason_code"] == "data_subject_request"
    assert removed_details["reason_code"] == "other"
    assert removed_details["removed"] == 1
    assert set(removed_details["hashes"]) < set(added_details["hashes"])
    # Nothing of either identifier anywhere in the database, in any form.
    dump = pg_dump(db_url).casefold()
    for trace in ("zed.never", "example.net", "2075550143", "555-0143", "555 0143"):
        assert trace not in dump


async def test_listing_shows_hashes_newest_first_in_signed_pages(stub: Stub) -> None:
    wanted = [email(f"person{i}@example.com") for i in range(5)]
    for identifier in wanted:  # one call each: five creation times
        await stub.Suppress(pb.SuppressRequest(tenant_id="acme", identifiers=[identifier]))
    seen: list[pb.Suppression] = []
    token = ""
    while True:
        page = await stub.ListSuppressions(
            pb.ListSuppressionsRequest(tenant_id="acme", page_size=2, page_token=token)
        )
        assert len(page.suppressions) <= 2
        raw = page.SerializeToString()
        assert b"person" not in raw
        assert b"example.com" not in raw
        seen += page.suppressions
        token = page.next_page_token
        if not token:
            break
    assert len(seen) == 5
    assert len({s.identifier_hash for s in seen}) == 5
    assert all(len(bytes.fromhex(s.identifier_hash)) == 32 for s in seen)
    assert [s.created_at.ToDatetime() for s in seen] == sorted(
        (s.created_at.ToDatetime() for s in seen), reverse=True
    )
    assert {(s.kind, s.actor, s.job_id, s.reason_code) for s in seen} == {
        ("email", "dev", "", pb.REASON_CODE_UNSPECIFIED)
    }
    # A token is this tenant's listing's only.
    first = await stub.ListSuppressions(pb.ListSuppressionsRequest(tenant_id="acme", page_size=2))
    await stub.Suppress(pb.SuppressRequest(tenant_id="globex", identifiers=[wanted[0]]))
    refused = await _refused(
        stub.ListSuppressions(
            pb.ListSuppressionsRequest(tenant_id="globex", page_token=first.next_page_token)
        )
    )
    assert refused.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_another_tenant_never_sees_this_tenants_entries(stub: Stub) -> None:
    await stub.Suppress(
        pb.SuppressRequest(tenant_id="acme", identifiers=[email("jane@example.com")])
    )
    assert await _check(stub, "globex", email("jane@example.com")) == [False]
    listed = await stub.ListSuppressions(pb.ListSuppressionsRequest(tenant_id="globex"))
    assert list(listed.suppressions) == []
    # The same identifier suppressed in both: two entries, two hashes.
    await stub.Suppress(
        pb.SuppressRequest(tenant_id="globex", identifiers=[email("jane@example.com")])
    )
    acme = await stub.ListSuppressions(pb.ListSuppressionsRequest(tenant_id="acme"))
    globex = await stub.ListSuppressions(pb.ListSuppressionsRequest(tenant_id="globex"))
    assert acme.suppressions[0].identifier_hash != globex.suppressions[0].identifier_hash


async def test_scopes_and_tenants_are_checked(
    stub: Stub, server: App, db: asyncpg.Connection
) -> None:
    reader = await credentials.create(db, "reader", frozenset({Scope.SUPPRESSION_READ}), ["acme"])
    eraser = await credentials.create(db, "eraser", frozenset({Scope.ERASE}), ["acme"])
    check = pb.CheckSuppressionRequest(tenant_id="acme", identifiers=[email("a@b.co")])
    suppress = pb.SuppressRequest(tenant_id="acme", identifiers=[email("a@b.co")])
    target = f"127.0.0.1:{server.port}"
    async with open_channel(target, token=reader) as channel:
        as_reader = privacy_pb2_grpc.PrivacyServiceStub(channel)
        assert await _check(as_reader, "acme", email("a@b.co")) == [False]
        denied = await _refused(as_reader.Suppress(suppress))
        assert denied.code() is grpc.StatusCode.PERMISSION_DENIED
        other = await _refused(
            as_reader.CheckSuppression(pb.CheckSuppressionRequest(tenant_id="globex"))
        )
        assert other.code() is grpc.StatusCode.PERMISSION_DENIED
    async with open_channel(target, token=eraser) as channel:
        as_eraser = privacy_pb2_grpc.PrivacyServiceStub(channel)
        denied = await _refused(as_eraser.CheckSuppression(check))
        assert denied.code() is grpc.StatusCode.PERMISSION_DENIED
    assert await db.fetchval("SELECT count(*) FROM privacy_suppressions") == 0


async def test_a_whole_tenant_erase_drops_its_entries_with_its_key(
    client: PrivacyClient, app: App, db: asyncpg.Connection
) -> None:
    await factories.tenant(db, "acme")
    await factories.tenant(db, "globex")
    jane = await factories.contact(db, "acme", "Jane", "Doe", phone=PHONE)
    async with open_channel(f"127.0.0.1:{app.port}", token=app.dev_token) as channel:
        stub = privacy_pb2_grpc.PrivacyServiceStub(channel)
        await stub.Suppress(pb.SuppressRequest(tenant_id="acme", identifiers=[email("x@y.co")]))
        await stub.Suppress(pb.SuppressRequest(tenant_id="globex", identifiers=[email("x@y.co")]))
        one = await client.erase("acme", subject(email=jane.email))
        assert (await client.wait_job(one.id)).state == pb.JOB_STATE_SUCCEEDED
        whole = await client.erase(
            "acme", pb.Subject(whole_tenant=pb.WholeTenant(confirm_tenant_id="acme"))
        )
        assert (await client.wait_job(whole.id)).state == pb.JOB_STATE_SUCCEEDED
    left = await db.fetch("SELECT tenant_id FROM privacy_suppressions")
    assert [r["tenant_id"] for r in left] == ["globex"]
    assert (
        await db.fetchval("SELECT count(*) FROM privacy_tenant_keys WHERE tenant_id = 'acme'") == 0
    )
