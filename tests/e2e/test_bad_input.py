"""Bad input gets the precise status, names the field, and changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from atomicrm.privacy.v1 import privacy_pb2 as pb
from atomicrm.privacy.v1 import privacy_pb2_grpc
from clients.client import PrivacyClient, PrivacyClientError, open_channel, subject
from server.app import App
from server.config import Settings
from tests import factories

INVALID = grpc.StatusCode.INVALID_ARGUMENT

# Every table the service writes to, and a few of the tenant's: none may change.
_WATCHED = (
    "privacy_jobs",
    "privacy_job_tasks",
    "privacy_audit_log",
    "privacy_blob_deletions",
    "contacts",
    "messages",
)


async def _counts(db: asyncpg.Connection) -> dict[str, int]:
    return {t: await db.fetchval(f"SELECT count(*) FROM {t}") for t in _WATCHED}


@pytest.fixture
async def jane(db: asyncpg.Connection) -> factories.Person:
    await factories.tenant(db, "acme")
    return await factories.contact(db, "acme", "Jane", "Doe", messages=2)


@pytest.fixture
async def stub(app: App) -> AsyncIterator[privacy_pb2_grpc.PrivacyServiceAsyncStub]:
    async with open_channel(f"127.0.0.1:{app.port}", token=app.dev_token) as channel:
        yield privacy_pb2_grpc.PrivacyServiceStub(channel)


@pytest.mark.parametrize(
    ("request_", "field", "says"),
    [
        (pb.EraseRequest(subject=pb.Subject(email="a@b.co")), "tenant_id", "is required"),
        (
            pb.EraseRequest(tenant_id="no spaces", subject=pb.Subject(email="a@b.co")),
            "tenant_id",
            "must be 1-64 letters, digits",
        ),
        (pb.EraseRequest(tenant_id="acme"), "subject", "is required"),
        (pb.EraseRequest(tenant_id="acme", subject=pb.Subject()), "subject", "is empty"),
        (
            pb.EraseRequest(tenant_id="acme", subject=pb.Subject(email="not-an-email")),
            "subject.email",
            "is not an email address",
        ),
        (
            pb.EraseRequest(tenant_id="acme", subject=pb.Subject(phone="call me")),
            "subject.phone",
            "is not a phone number",
        ),
        (
            pb.EraseRequest(tenant_id="acme", subject=pb.Subject(phone="12")),
            "subject.phone",
            "is not a phone number",
        ),
        (
            # The right shape, but no number phonenumbers can read in the region.
            pb.EraseRequest(tenant_id="acme", subject=pb.Subject(phone="+999 123 456 789")),
            "subject.phone",
            "is not a phone number in the tenant's region (US)",
        ),
        (
            pb.EraseRequest(tenant_id="acme", subject=pb.Subject(file_id=0)),
            "subject.file_id",
            "must be a positive id",
        ),
        (
            pb.EraseRequest(tenant_id="acme", subject=pb.Subject(user_id=0)),
            "subject.user_id",
            "must be a positive id",
        ),
        (
            pb.EraseRequest(
                tenant_id="acme",
                subject=pb.Subject(whole_tenant=pb.WholeTenant(confirm_tenant_id="acm")),
            ),
            "subject.whole_tenant.confirm_tenant_id",
            "must repeat tenant_id",
        ),
        (
            pb.EraseRequest(tenant_id="acme", subject=pb.Subject(contact_id=-4)),
            "subject.contact_id",
            "must be a positive id",
        ),
        (
            pb.EraseRequest(
                tenant_id="acme",
                subject=pb.Subject(email="a@b.co"),
                data_types=["contacts", "emails"],
            ),
            "data_types[1]",
            "is not a data type; known: files, messages, activity, contacts, accounts",
        ),
        (
            pb.EraseRequest(
                tenant_id="acme",
                subject=pb.Subject(email="a@b.co"),
                data_types=["contacts"] * 65,
            ),
            "data_types",
            "has more than 64 entries",
        ),
        (
            pb.EraseRequest(tenant_id="acme", subject=pb.Subject(email="a@b.co"), reason="a\x00b"),
            "reason",
            "must not contain control characters",
        ),
        (
            pb.EraseRequest(tenant_id="acme", subject=pb.Subject(email="a@b.co"), note="x" * 201),
            "note",
            "is longer than 200 characters; keep it short",
        ),
        (
            pb.EraseRequest(
                tenant_id="acme", subject=pb.Subject(email="a@b.co"), note="n", reason="r"
            ),
            "reason",
            "is deprecated: set note (and reason_code), not both",
        ),
        (
            pb.EraseRequest(
                tenant_id="acme",
                subject=pb.Subject(email="a@b.co"),
                reason_code=99,  # type: ignore[arg-type]
            ),
            "reason_code",
            "is not one of the ReasonCode values",
        ),
        (
            pb.EraseRequest(tenant_id="acme\n", subject=pb.Subject(email="a@b.co")),
            "tenant_id",
            "must be 1-64 letters, digits",
        ),
        (
            pb.EraseRequest(tenant_id="acme", subject=pb.Subject(email="a@b.co\n")),
            "subject.email",
            "is not an email address",
        ),
        (
            pb.EraseRequest(tenant_id="acme", subject=pb.Subject(email="a\x00@b.co")),
            "subject.email",
            "is not an email address",
        ),
        (
            pb.EraseRequest(tenant_id="acme", subject=pb.Subject(email="a@b.co"), reason="x" * 501),
            "reason",
            "is longer than 500 characters; keep it short",
        ),
    ],
)
async def test_invalid_erase_requests(
    client: PrivacyClient,
    stub: privacy_pb2_grpc.PrivacyServiceAsyncStub,
    db: asyncpg.Connection,
    jane: factories.Person,
    request_: pb.EraseRequest,
    *,
    field: str,
    says: str,
) -> None:
    before = await _counts(db)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.Erase(request_)
    error = PrivacyClientError.from_rpc_error(raised.value)
    assert error.code is INVALID
    assert error.message.startswith(f"{field}: {says}")
    assert error.field_violations[0][0] == field  # google.rpc.BadRequest carries the field
    assert await _counts(db) == before


async def test_unknown_tenant_and_unknown_subject_are_not_found(
    client: PrivacyClient, db: asyncpg.Connection, jane: factories.Person
) -> None:
    before = await _counts(db)
    with pytest.raises(PrivacyClientError) as raised:
        await client.erase("nobody", subject(email=jane.email))
    assert raised.value.code is grpc.StatusCode.NOT_FOUND
    assert raised.value.message == "no tenant with tenant_id 'nobody'"
    for who in (
        subject(email="someone.else@example.com"),
        subject(phone="+44 20 7946 0000"),
        subject(contact_id=jane.id + 1000),
    ):
        with pytest.raises(PrivacyClientError) as raised:
            await client.erase("acme", who)
        assert raised.value.code is grpc.StatusCode.NOT_FOUND
        assert "no contact or user account in tenant 'acme' matches subject." in (
            raised.value.message
        )
        assert "example.com" not in raised.value.message
        assert "7946" not in raised.value.message
    assert await _counts(db) == before


async def test_job_ids_and_listing(client: PrivacyClient, jane: factories.Person) -> None:
    for job_id, code, says in [
        ("", INVALID, "job_id: is required"),
        ("42", INVALID, "job_id: is not a job id (a UUID)"),
        ("6f1c2b1e-1f7e-4c55-9d3c-0a0b0c0d0e0f", grpc.StatusCode.NOT_FOUND, "no job with id"),
    ]:
        for call in (client.get_job, client.cancel_job):
            with pytest.raises(PrivacyClientError) as raised:
                await call(job_id)
            assert raised.value.code is code
            assert raised.value.message.startswith(says)
    with pytest.raises(PrivacyClientError, match="tenant_id: is required"):
        await client.list_jobs("")
    with pytest.raises(PrivacyClientError, match="page_token: is not a token from ListJobs"):
        await client.list_jobs("acme", page_token="garbage!")
    with pytest.raises(PrivacyClientError, match="page_size: must be between 0 and 500"):
        await client.list_jobs("acme", page_size=501)
    with pytest.raises(PrivacyClientError) as raised:
        async for _ in client.watch_job("nope"):
            pass
    assert raised.value.code is INVALID


async def test_cancelling_a_finished_job_is_a_failed_precondition(
    client: PrivacyClient, jane: factories.Person
) -> None:
    job = await client.wait_job((await client.erase("acme", subject(email=jane.email))).id)
    assert job.state == pb.JOB_STATE_SUCCEEDED
    with pytest.raises(PrivacyClientError) as raised:
        await client.cancel_job(job.id)
    assert raised.value.code is grpc.StatusCode.FAILED_PRECONDITION
    assert raised.value.message == f"job {job.id} has already ended (succeeded): nothing to cancel"


async def test_reusing_an_idempotency_key_for_another_subject_is_refused(
    client: PrivacyClient, db: asyncpg.Connection, jane: factories.Person
) -> None:
    other = await factories.contact(db, "acme", "John", "Roe", phone="+1 555 010 9999")
    first = await client.erase(
        "acme", subject(email=jane.email), idempotency_key="k1", dry_run=True
    )
    before = await _counts(db)
    with pytest.raises(PrivacyClientError) as raised:
        await client.erase("acme", subject(email=other.email), idempotency_key="k1", dry_run=True)
    assert raised.value.code is grpc.StatusCode.ALREADY_EXISTS
    assert "idempotency_key: this key was already used for a different request" in (
        raised.value.message
    )
    assert await _counts(db) == before
    again = await client.erase(
        "acme", subject(email=jane.email), idempotency_key="k1", dry_run=True
    )
    assert again.id == first.id


@pytest.mark.parametrize(
    "change",
    [
        {"data_types": ["messages"]},
        {"reason_code": pb.REASON_CODE_LEGAL_OBLIGATION},
        {"note": "ticket 2"},
        {"subject_under_16": True},
        {"deadline": datetime.now(UTC) + timedelta(days=3)},
        {"not_before": datetime.now(UTC) + timedelta(days=1)},
        {"dry_run": False},
    ],
    ids=lambda change: next(iter(change)),
)
async def test_an_idempotency_key_is_bound_to_the_whole_request(
    client: PrivacyClient, db: asyncpg.Connection, jane: factories.Person, change: dict[str, Any]
) -> None:
    """The same key with anything else changed is refused and writes nothing; the
    identical request still answers with the first job."""
    asked: dict[str, Any] = {
        "idempotency_key": "k2",
        "dry_run": True,
        "reason_code": pb.REASON_CODE_DATA_SUBJECT_REQUEST,
        "note": "ticket 1",
    }
    first = await client.erase("acme", subject(email=jane.email), **asked)
    before = await _counts(db)
    with pytest.raises(PrivacyClientError) as raised:
        await client.erase("acme", subject(email=jane.email), **{**asked, **change})
    assert raised.value.code is grpc.StatusCode.ALREADY_EXISTS
    assert raised.value.message.startswith("idempotency_key: ")
    assert await _counts(db) == before
    again = await client.erase("acme", subject(email=jane.email), **asked)
    assert again.id == first.id


async def test_an_oversized_request_is_refused_before_it_is_parsed(
    stub: privacy_pb2_grpc.PrivacyServiceAsyncStub, db: asyncpg.Connection, jane: factories.Person
) -> None:
    before = await _counts(db)
    huge = pb.EraseRequest(
        tenant_id="acme", subject=pb.Subject(email=jane.email), reason="x" * (2 * 1024 * 1024)
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.Erase(huge)
    assert raised.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert await _counts(db) == before
    # The server is still serving afterwards.
    job = await stub.Erase(
        pb.EraseRequest(tenant_id="acme", subject=pb.Subject(email=jane.email), dry_run=True)
    )
    assert job.dry_run


async def test_sensitive_operations_are_rate_limited_with_a_retry_delay(
    settings: Settings, db: asyncpg.Connection, jane: factories.Person
) -> None:
    limited = App(replace(settings, workers=0, rate_limit_per_minute=1, rate_limit_burst=2))
    await limited.start()
    try:
        async with open_channel(f"127.0.0.1:{limited.port}", token=limited.dev_token) as channel:
            stub = privacy_pb2_grpc.PrivacyServiceStub(channel)
            erase = pb.EraseRequest(
                tenant_id="acme", subject=pb.Subject(email=jane.email), dry_run=True
            )
            await stub.Erase(erase)
            await stub.Erase(erase)
            before = await _counts(db)
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await stub.Erase(erase)
            assert raised.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "retry in" in (raised.value.details() or "")
            status = rpc_status.from_call(raised.value)
            assert status is not None
            retry = error_details_pb2.RetryInfo()
            assert status.details[0].Unpack(retry)
            assert retry.retry_delay.ToTimedelta() > timedelta(0)
            assert await _counts(db) == before  # refused before any write
            # Another operation has its own bucket.
            export = pb.ExportRequest(
                tenant_id="acme",
                subject=pb.Subject(email=jane.email),
                format=pb.EXPORT_FORMAT_NDJSON,
            )
            assert [chunk async for chunk in stub.Export(export)]
    finally:
        await limited.stop()
