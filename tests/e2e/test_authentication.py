"""Who may call: bearer tokens, scopes and tenants, over a real server and database."""

from __future__ import annotations

import stat
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from atomicrm.privacy.v1 import privacy_pb2 as pb
from atomicrm.privacy.v1 import privacy_pb2_grpc
from clients.client import PrivacyClient, PrivacyClientError, open_channel, subject
from server import credentials
from server.app import App
from server.auth import METHOD_SCOPES
from server.config import Settings
from server.credentials import Scope
from server.errors import AlreadyExists, InvalidArgument
from tests import factories

SERVICE = pb.DESCRIPTOR.services_by_name["PrivacyService"]
# Tables a refused call must leave as they were.
_WATCHED = (
    "privacy_jobs",
    "privacy_job_tasks",
    "privacy_audit_log",
    "privacy_legal_holds",
    "privacy_suppressions",
)


def _requests(tenant: str, job_id: str, hold_id: str) -> dict[str, Any]:
    """A well-formed request for every method of the service, aimed at `tenant`."""
    who = pb.Subject(email="jane@example.com")
    return {
        "Erase": pb.EraseRequest(tenant_id=tenant, subject=who),
        "Anonymize": pb.AnonymizeRequest(tenant_id=tenant, subject=who),
        "Export": pb.ExportRequest(tenant_id=tenant, subject=who),
        "GetJob": pb.GetJobRequest(job_id=job_id),
        "ListJobs": pb.ListJobsRequest(tenant_id=tenant),
        "WatchJob": pb.WatchJobRequest(job_id=job_id),
        "CancelJob": pb.CancelJobRequest(job_id=job_id),
        "SetLegalHold": pb.SetLegalHoldRequest(tenant_id=tenant, subject=who, reason="case 1"),
        "ReleaseLegalHold": pb.ReleaseLegalHoldRequest(hold_id=hold_id, reason="case closed"),
        "ListLegalHolds": pb.ListLegalHoldsRequest(tenant_id=tenant),
        "VerifyAuditLog": pb.VerifyAuditLogRequest(tenant_id=tenant),
        "CheckSuppression": pb.CheckSuppressionRequest(
            tenant_id=tenant, identifiers=[pb.Identifier(email="jane@example.com")]
        ),
        "Suppress": pb.SuppressRequest(
            tenant_id=tenant, identifiers=[pb.Identifier(email="jane@example.com")]
        ),
        "Unsuppress": pb.UnsuppressRequest(
            tenant_id=tenant,
            identifiers=[pb.Identifier(email="jane@example.com")],
            reason_code=pb.REASON_CODE_OTHER,
        ),
        "ListSuppressions": pb.ListSuppressionsRequest(tenant_id=tenant),
        "FindSubjects": pb.FindSubjectsRequest(
            tenant_id=tenant, identifier=pb.Identifier(email="jane@example.com")
        ),
    }


async def _call(
    stub: privacy_pb2_grpc.PrivacyServiceStub,
    method: str,
    request: Any,
    metadata: tuple[tuple[str, str], ...] = (),
) -> tuple[grpc.StatusCode, str]:
    """Call any method (streams read to the end); its status code and message."""
    call = getattr(stub, method)(request, metadata=metadata, timeout=10)
    try:
        if SERVICE.methods_by_name[method].server_streaming:
            async for _ in call:
                pass
        else:
            await call
    except grpc.aio.AioRpcError as error:
        return error.code(), error.details() or ""
    return grpc.StatusCode.OK, ""


async def _counts(db: asyncpg.Connection) -> dict[str, int]:
    return {t: await db.fetchval(f"SELECT count(*) FROM {t}") for t in _WATCHED}


def _bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


@pytest.fixture
async def fresh_auth(settings: Settings) -> AsyncIterator[App]:
    """A server that asks the database about every token (no cache)."""
    async with App(replace(settings, auth_cache=timedelta(0))) as app:
        yield app


@pytest.fixture
async def raw_stub(fresh_auth: App) -> AsyncIterator[privacy_pb2_grpc.PrivacyServiceStub]:
    async with open_channel(f"127.0.0.1:{fresh_auth.port}") as channel:
        yield privacy_pb2_grpc.PrivacyServiceStub(channel)


@pytest.fixture
async def two_tenants(db: asyncpg.Connection) -> tuple[factories.Person, factories.Person]:
    await factories.tenant(db, "acme")
    await factories.tenant(db, "globex")
    return (
        await factories.contact(db, "acme", "Jane", "Doe", messages=2),
        await factories.contact(db, "globex", "John", "Roe", messages=2),
    )


def test_every_method_of_the_service_has_a_scope() -> None:
    # A method missing here is refused to everyone; this keeps that a decision.
    assert set(METHOD_SCOPES) == set(SERVICE.methods_by_name)


@pytest.mark.parametrize("method", sorted(SERVICE.methods_by_name))
@pytest.mark.parametrize(
    ("metadata", "says"),
    [
        ((), "no credentials"),
        ((("authorization", "Basic YWxhZGRpbjpvcGVuc2VzYW1l"),), '"Bearer <token>"'),
        ((("authorization", "Bearer "),), '"Bearer <token>"'),
        (_bearer("prv_" + "x" * 43), "unknown or revoked"),
    ],
    ids=["none", "basic", "empty", "unknown"],
)
async def test_every_rpc_refuses_a_caller_without_a_valid_token(
    raw_stub: privacy_pb2_grpc.PrivacyServiceStub,
    db: asyncpg.Connection,
    two_tenants: object,
    method: str,
    metadata: tuple[tuple[str, str], ...],
    *,
    says: str,
) -> None:
    before = await _counts(db)
    request = _requests("acme", str(uuid.uuid4()), str(uuid.uuid4()))[method]
    code, message = await _call(raw_stub, method, request, metadata)
    assert code is grpc.StatusCode.UNAUTHENTICATED
    assert says in message
    assert await _counts(db) == before


async def test_two_authorization_headers_are_refused_whichever_comes_first(
    fresh_auth: App,
    raw_stub: privacy_pb2_grpc.PrivacyServiceStub,
    db: asyncpg.Connection,
    two_tenants: object,
) -> None:
    # A proxy that adds its own header in front of the caller's must not decide
    # who the caller is: two headers are ambiguous, whatever they hold.
    assert fresh_auth.dev_token is not None
    valid = ("authorization", f"Bearer {fresh_auth.dev_token}")
    unknown = ("authorization", "Bearer prv_" + "x" * 43)
    before = await _counts(db)
    for metadata in ((valid, unknown), (unknown, valid), (valid, valid)):
        for method, request in _requests("acme", str(uuid.uuid4()), str(uuid.uuid4())).items():
            code, message = await _call(raw_stub, method, request, metadata)
            assert code is grpc.StatusCode.UNAUTHENTICATED, (method, metadata)
            assert "more than one authorization header" in message
    assert await _counts(db) == before
    async with open_channel(f"127.0.0.1:{fresh_auth.port}") as channel:
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
            metadata=(unknown, valid),
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            async for _ in reflection:
                pass
    assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert "more than one authorization header" in (refused.value.details() or "")


async def test_health_needs_no_token(fresh_auth: App) -> None:
    async with open_channel(f"127.0.0.1:{fresh_auth.port}") as channel:
        answer = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


async def test_a_scope_allows_its_methods_and_no_other(
    raw_stub: privacy_pb2_grpc.PrivacyServiceStub,
    fresh_auth: App,
    db: asyncpg.Connection,
    two_tenants: object,
) -> None:
    for scope in Scope:
        token = await credentials.create(db, f"only-{scope.value}", frozenset({scope}), ["acme"])
        for method, request in _requests("acme", str(uuid.uuid4()), str(uuid.uuid4())).items():
            before = await _counts(db)
            code, message = await _call(raw_stub, method, request, _bearer(token))
            if METHOD_SCOPES[method] is scope:
                assert code is not grpc.StatusCode.PERMISSION_DENIED, (method, message)
            else:
                assert code is grpc.StatusCode.PERMISSION_DENIED, (scope, method)
                assert f"lacks the scope {METHOD_SCOPES[method].value!r}" in message
                assert await _counts(db) == before


async def test_a_caller_of_one_tenant_cannot_touch_or_see_another(
    fresh_auth: App,
    raw_stub: privacy_pb2_grpc.PrivacyServiceStub,
    db: asyncpg.Connection,
    two_tenants: tuple[factories.Person, factories.Person],
) -> None:
    _, john = two_tenants
    async with PrivacyClient(f"127.0.0.1:{fresh_auth.port}", token=fresh_auth.dev_token) as admin:
        globex_job = await admin.erase(
            "globex", subject(email=john.email), not_before=_in(timedelta(days=1))
        )
        globex_hold = await admin.set_legal_hold("globex", subject(email=john.email), "case 7")
    every_scope = frozenset(Scope)
    acme_only = await credentials.create(db, "acme-support", every_scope, ["acme"])
    before = await _counts(db)
    requests = _requests("globex", globex_job.id, globex_hold.id)
    for method, request in requests.items():
        code, message = await _call(raw_stub, method, request, _bearer(acme_only))
        if method in {"GetJob", "WatchJob", "CancelJob"}:
            # As if the job did not exist: nothing is learned about another tenant.
            assert (code, message) == (grpc.StatusCode.NOT_FOUND, f"no job with id {globex_job.id}")
        elif method == "ReleaseLegalHold":
            assert code is grpc.StatusCode.NOT_FOUND
            assert message == f"no legal hold with id {globex_hold.id}"
        else:
            assert code is grpc.StatusCode.PERMISSION_DENIED, method
            assert message == "caller 'acme-support' may not act on tenant 'globex'"
    assert await _counts(db) == before
    state = await db.fetchval("SELECT state FROM privacy_jobs WHERE id = $1", globex_job.id)
    assert state == "held"  # as the hold left it: CancelJob did not reach it
    # The same caller works on its own tenant.
    acme = _requests("acme", str(uuid.uuid4()), str(uuid.uuid4()))
    code, _ = await _call(raw_stub, "ListJobs", acme["ListJobs"], _bearer(acme_only))
    assert code is grpc.StatusCode.OK


async def test_whole_tenant_erase_needs_its_own_scope(
    fresh_auth: App,
    raw_stub: privacy_pb2_grpc.PrivacyServiceStub,
    db: asyncpg.Connection,
    two_tenants: object,
) -> None:
    plain = await credentials.create(db, "tickets", frozenset({Scope.ERASE}), ["acme"])
    trusted = await credentials.create(
        db, "offboarding", frozenset({Scope.ERASE, Scope.ERASE_TENANT}), ["acme"]
    )
    whole = pb.EraseRequest(
        tenant_id="acme",
        subject=pb.Subject(whole_tenant=pb.WholeTenant(confirm_tenant_id="acme")),
        not_before=_timestamp(timedelta(days=1)),
    )
    code, message = await _call(raw_stub, "Erase", whole, _bearer(plain))
    assert code is grpc.StatusCode.PERMISSION_DENIED
    assert message == "caller 'tickets' lacks the scope 'erase.tenant'"
    assert await db.fetchval("SELECT count(*) FROM privacy_jobs") == 0
    code, _ = await _call(raw_stub, "Erase", whole, _bearer(trusted))
    assert code is grpc.StatusCode.OK
    assert await db.fetchval("SELECT requested_by FROM privacy_jobs") == "offboarding"


async def test_the_caller_is_the_actor_in_the_audit_log(
    fresh_auth: App,
    db: asyncpg.Connection,
    two_tenants: tuple[factories.Person, factories.Person],
) -> None:
    jane, _ = two_tenants
    token = await credentials.create(
        db, "helpdesk", frozenset({Scope.ERASE, Scope.JOBS_READ, Scope.EXPORT}), ["acme"]
    )
    async with PrivacyClient(f"127.0.0.1:{fresh_auth.port}", token=token) as client:
        async for _ in client.export("acme", subject(email=jane.email)):
            pass
        job = await client.wait_job((await client.erase("acme", subject(email=jane.email))).id)
    assert job.state == pb.JOB_STATE_SUCCEEDED
    actors = await db.fetch(
        "SELECT DISTINCT actor FROM privacy_audit_log WHERE action IN "
        "('job.accepted', 'export.completed')"
    )
    assert [r["actor"] for r in actors] == ["helpdesk"]


async def test_a_revoked_token_is_refused(
    fresh_auth: App, db: asyncpg.Connection, two_tenants: object
) -> None:
    token = await credentials.create(db, "old-service", frozenset({Scope.JOBS_READ}), ["*"])
    async with PrivacyClient(f"127.0.0.1:{fresh_auth.port}", token=token) as client:
        assert list((await client.list_jobs("acme")).jobs) == []
        await credentials.revoke(db, "old-service")
        with pytest.raises(PrivacyClientError) as refused:
            await client.list_jobs("acme")
    assert refused.value.code is grpc.StatusCode.UNAUTHENTICATED


async def test_first_start_makes_one_dev_credential_only_readable_by_its_owner(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with App(settings) as first:
        token = first.dev_token
        assert token is not None
        assert token.startswith("prv_")
        path = settings.dev_token_file
        assert path.read_text().strip() == token
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        # The same database and data dir: no second credential.
        async with App(settings) as second:
            assert second.dev_token == token
    assert await db.fetchval("SELECT count(*) FROM privacy_credentials") == 1


async def test_no_dev_credential_when_turned_off_or_when_callers_exist(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with App(replace(settings, dev_credential=False)) as off:
        assert off.dev_token is None
    assert await db.fetchval("SELECT count(*) FROM privacy_credentials") == 0
    await credentials.create(db, "ops", frozenset({Scope.JOBS_READ}), ["*"])
    async with App(settings) as on:
        assert on.dev_token is None
    assert not settings.dev_token_file.exists()
    names = await db.fetch("SELECT name FROM privacy_credentials")
    assert [r["name"] for r in names] == ["ops"]


async def test_stored_credentials_hold_no_token(db: asyncpg.Connection) -> None:
    token = await credentials.create(db, "svc", frozenset({Scope.EXPORT}), ["acme"])
    row = await db.fetchrow("SELECT * FROM privacy_credentials")
    assert row is not None
    assert token not in {str(v) for v in row.values()}
    assert row["token_hash"] == credentials.token_hash(token)


async def test_bad_credential_definitions_are_refused(db: asyncpg.Connection) -> None:
    with pytest.raises(InvalidArgument, match="unknown scope 'delete'"):
        credentials.parse_scopes(["erase", "delete"])
    with pytest.raises(InvalidArgument, match="name"):
        await credentials.create(db, "Has Spaces", frozenset({Scope.ERASE}), ["acme"])
    with pytest.raises(InvalidArgument, match="tenants"):
        await credentials.create(db, "svc", frozenset({Scope.ERASE}), [])
    await credentials.create(db, "svc", frozenset({Scope.ERASE}), ["acme"])
    with pytest.raises(AlreadyExists):
        await credentials.create(db, "svc", frozenset({Scope.ERASE}), ["acme"])
    assert await db.fetchval("SELECT count(*) FROM privacy_credentials") == 1


def _in(delta: timedelta) -> datetime:
    return datetime.now(UTC) + delta


def _timestamp(delta: timedelta) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(_in(delta))
    return stamp
