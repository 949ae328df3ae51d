"""ListJobs page tokens: only a token the server made, for this very listing, is
read; anything else is INVALID_ARGUMENT naming page_token, over a real server."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import grpc
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from atomicrm.privacy.v1 import privacy_pb2 as pb
from atomicrm.privacy.v1 import privacy_pb2_grpc
from clients.client import PrivacyClient, PrivacyClientError, open_channel, subject
from server import pagetokens
from server.app import App
from server.config import Settings
from tests import factories

EXAMPLES = settings(
    max_examples=int(os.environ.get("PRIVACY_FUZZ_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
JOBS = 3  # more than a page of 2: the first page has a next page


def _old_style(created: str, job_id: uuid.UUID) -> str:
    """A token as the server made them before they were signed: base64 of the cursor."""
    return base64.urlsafe_b64encode(f"{created}|{job_id}".encode()).decode()


def _flip(token: str, at: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token))
    raw[at % len(raw)] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).decode()


@pytest.fixture
async def stub(
    no_workers: Settings, db: asyncpg.Connection
) -> AsyncIterator[privacy_pb2_grpc.PrivacyServiceAsyncStub]:
    """A server with jobs in two tenants and no workers (the jobs stay as they are)."""
    await factories.tenant(db, "acme")
    await factories.tenant(db, "initech")  # known, without a job (so without a key)
    await factories.tenant(db, "globex")
    jane = await factories.contact(db, "acme", "Jane", "Doe")
    john = await factories.contact(db, "globex", "John", "Roe")
    async with App(no_workers) as app:
        async with PrivacyClient(f"127.0.0.1:{app.port}", token=app.dev_token) as client:
            for _ in range(JOBS):
                await client.erase("acme", subject(email=jane.email))
                await client.erase("globex", subject(email=john.email))
        async with open_channel(f"127.0.0.1:{app.port}", token=app.dev_token) as channel:
            yield privacy_pb2_grpc.PrivacyServiceStub(channel)


async def _list(
    stub: privacy_pb2_grpc.PrivacyServiceAsyncStub, request: pb.ListJobsRequest
) -> pb.ListJobsResponse:
    answer: pb.ListJobsResponse = await stub.ListJobs(request, timeout=10)
    return answer


async def _refused(
    stub: privacy_pb2_grpc.PrivacyServiceAsyncStub, request: pb.ListJobsRequest
) -> PrivacyClientError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await _list(stub, request)
    error = PrivacyClientError.from_rpc_error(raised.value)
    assert error.code is grpc.StatusCode.INVALID_ARGUMENT, (request.page_token, error)
    assert error.message.startswith("page_token: is not a token from ListJobs"), error.message
    assert error.field_violations[0][0] == "page_token"
    return error


async def test_every_tenants_jobs_page_with_tokens_of_their_own_listing(
    stub: privacy_pb2_grpc.PrivacyServiceAsyncStub,
) -> None:
    seen: list[pb.Job] = []
    token = ""
    while True:
        page = await _list(
            stub, pb.ListJobsRequest(all_tenants=True, page_size=4, page_token=token)
        )
        seen.extend(page.jobs)
        token = page.next_page_token
        if not token:
            break
    assert sorted(j.tenant_id for j in seen) == ["acme"] * JOBS + ["globex"] * JOBS
    created = [(j.created_at.ToDatetime(), j.id) for j in seen]
    assert created == sorted(created, reverse=True)  # newest first, across tenants
    assert len({j.id for j in seen}) == len(seen)
    # A token of the every-tenant listing is no token of a tenant's, nor the reverse.
    every = (await _list(stub, pb.ListJobsRequest(all_tenants=True, page_size=1))).next_page_token
    acme = (await _list(stub, pb.ListJobsRequest(tenant_id="acme", page_size=1))).next_page_token
    await _refused(stub, pb.ListJobsRequest(tenant_id="acme", page_token=every))
    await _refused(stub, pb.ListJobsRequest(all_tenants=True, page_token=acme))
    await _refused(
        stub, pb.ListJobsRequest(all_tenants=True, kind=pb.JOB_KIND_ERASE, page_token=every)
    )
    with pytest.raises(grpc.aio.AioRpcError) as both:
        await _list(stub, pb.ListJobsRequest(all_tenants=True, tenant_id="acme"))
    assert both.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert both.value.details() == "tenant_id: must be empty with all_tenants"


async def test_pages_follow_from_their_tokens(
    stub: privacy_pb2_grpc.PrivacyServiceAsyncStub,
) -> None:
    first = await _list(stub, pb.ListJobsRequest(tenant_id="acme", page_size=2))
    assert len(first.jobs) == 2
    assert first.next_page_token
    rest = await _list(
        stub, pb.ListJobsRequest(tenant_id="acme", page_size=2, page_token=first.next_page_token)
    )
    assert len(rest.jobs) == 1
    assert not rest.next_page_token
    # A page size may change between pages (only the listing itself is bound).
    again = await _list(
        stub, pb.ListJobsRequest(tenant_id="acme", page_size=50, page_token=first.next_page_token)
    )
    assert [j.id for j in again.jobs] == [j.id for j in rest.jobs]


async def test_a_token_is_refused_on_another_tenant_or_filter(
    stub: privacy_pb2_grpc.PrivacyServiceAsyncStub,
) -> None:
    token = (await _list(stub, pb.ListJobsRequest(tenant_id="acme", page_size=2))).next_page_token
    for other in (
        pb.ListJobsRequest(tenant_id="globex", page_token=token),
        pb.ListJobsRequest(tenant_id="acme", state=pb.JOB_STATE_PENDING, page_token=token),
        pb.ListJobsRequest(tenant_id="acme", kind=pb.JOB_KIND_ERASE, page_token=token),
    ):
        await _refused(stub, other)
    filtered = await _list(
        stub, pb.ListJobsRequest(tenant_id="acme", kind=pb.JOB_KIND_ERASE, page_size=2)
    )
    await _refused(stub, pb.ListJobsRequest(tenant_id="acme", page_token=filtered.next_page_token))


async def test_changed_truncated_or_forged_tokens_are_refused(
    stub: privacy_pb2_grpc.PrivacyServiceAsyncStub, db: asyncpg.Connection
) -> None:
    token = (await _list(stub, pb.ListJobsRequest(tenant_id="acme", page_size=2))).next_page_token
    raw = base64.urlsafe_b64decode(token)
    job_id = await db.fetchval("SELECT id FROM privacy_jobs WHERE tenant_id = 'acme' LIMIT 1")
    forged = [
        token[:-4],  # truncated
        token + "AAAA",  # lengthened
        token + "==",  # the same bytes, not as the server wrote them
        f" {token}\n",
        _flip(token, 0),  # the cursor changed
        _flip(token, -1),  # the signature changed
        base64.urlsafe_b64encode(raw[: len(raw) // 2]).decode(),
        # The cursor as unsigned tokens had it, at the edges of the timestamp range
        # (asyncpg or PostgreSQL refused these: INTERNAL).
        _old_style("0001-01-01T00:00:00+23:59", job_id),
        _old_style("9999-12-31T23:59:59.999999-23:59", job_id),
        _old_style("2026-01-01T00:00:00+00:00", job_id),
        # Well formed, for this listing, signed with a key that is not the tenant's.
        *(
            pagetokens.make(
                pagetokens.signing_key(guess), ("acme", "", ""), pagetokens.Cursor(when, job_id)
            )
            for guess in (b"", b"\x00" * 32, b"acme")
            for when in (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))
        ),
    ]
    for bad in forged:
        await _refused(stub, pb.ListJobsRequest(tenant_id="acme", page_token=bad))
    # A tenant with no job (and so, so far, no key) made no token either.
    for bad in (token, *forged):
        await _refused(stub, pb.ListJobsRequest(tenant_id="initech", page_token=bad))


@EXAMPLES
@given(
    token=st.one_of(
        st.text(min_size=1, max_size=200),
        st.binary(min_size=1, max_size=200).map(lambda b: base64.urlsafe_b64encode(b).decode()),
        st.binary(min_size=1, max_size=200).map(lambda b: b.decode("latin-1")),
    )
)
@example(token=_old_style("0001-01-01T00:00:00+23:59", uuid.UUID(int=0)))
@example(token=_old_style("9999-12-31T23:59:59.999999-23:59", uuid.UUID(int=0)))
async def test_any_token_the_server_did_not_make_is_invalid_argument(
    stub: privacy_pb2_grpc.PrivacyServiceAsyncStub, token: str
) -> None:
    await _refused(stub, pb.ListJobsRequest(tenant_id="acme", page_token=token))
