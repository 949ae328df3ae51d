"""Fuzz every RPC with generated, mostly nonsensical requests against the real server.

Whatever arrives, the server answers with a precise status (never UNKNOWN or
INTERNAL), keeps serving, and a request it refuses writes nothing. Raw bytes too:
requests cut short, with a byte changed, with a string that is not UTF-8, noise.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import grpc
import pytest
from google.protobuf import descriptor
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from atomicrm.privacy.v1 import privacy_pb2 as pb
from atomicrm.privacy.v1 import privacy_pb2_grpc
from clients.client import open_channel
from server.app import App
from server.config import Settings
from tests import factories

EXAMPLES = settings(
    max_examples=int(os.environ.get("PRIVACY_FUZZ_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# A hang guard, not a threshold: WatchJob of a real open job would stream on.
CALL_TIMEOUT = 10
NEVER = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
# The tables any RPC may write: a refused request must leave them as they were.
WRITTEN = (
    "privacy_jobs",
    "privacy_job_tasks",
    "privacy_job_identifiers",
    "privacy_audit_log",
    "privacy_legal_holds",
    "privacy_suppressions",
)

strings = st.one_of(
    st.sampled_from(["", "acme", "ghost", "contacts", "a@b.co", "nul\x00byte", "x" * 70]),
    st.text(max_size=80),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=600),
)
identifiers = st.one_of(
    st.just(pb.Identifier()),
    st.builds(lambda v: pb.Identifier(email=v), st.just("Jane.Doe@example.com") | strings),
    st.builds(lambda v: pb.Identifier(phone=v), st.just("+1 (555) 010-2030") | strings),
)
int64s = st.integers(min_value=-(2**63), max_value=2**63 - 1)
int32s = st.integers(min_value=-(2**31), max_value=2**31 - 1)
subjects = st.one_of(
    st.none(),
    st.just(pb.Subject()),
    st.builds(lambda v: pb.Subject(contact_id=v), st.integers(1, 3) | int64s),
    st.builds(lambda v: pb.Subject(user_id=v), st.integers(1, 3) | int64s),
    st.builds(lambda v: pb.Subject(email=v), st.just("jane.doe@example.com") | strings),
    st.builds(lambda v: pb.Subject(phone=v), st.just("+1 (555) 010-2030") | strings),
    st.builds(lambda v: pb.Subject(whole_tenant=pb.WholeTenant(confirm_tenant_id=v)), strings),
)
# Mostly well-formed values, so that requests also get past validation and reach
# the database; the rest is noise.
tenants = st.one_of(st.just("acme"), st.just("acme"), st.just("ghost"), strings)
known_types = st.sampled_from(["files", "messages", "activity", "contacts", "accounts"])
data_types: st.SearchStrategy[list[str]] = st.one_of(
    st.just([]), st.lists(known_types, max_size=3), st.lists(strings, max_size=70)
)
optional_strings = st.one_of(st.just(""), st.just(""), strings)
job_ids = st.one_of(strings, st.uuids().map(str))


def _job_fields(draw: st.DrawFn) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "tenant_id": draw(tenants),
        "data_types": draw(data_types),
        "dry_run": draw(st.booleans()),
        "idempotency_key": draw(optional_strings),
        "reason": draw(optional_strings),
        "subject_under_16": draw(st.booleans()),
    }
    for name in ("not_before", "deadline"):
        seconds = draw(st.none() | st.integers(-(2**40), 2**40))
        if seconds is not None:  # out of protobuf's range, in the past, far ahead
            fields[name] = Timestamp(seconds=int(time.time()) + seconds)
    subject = draw(subjects)
    if subject is not None:
        fields["subject"] = subject
    return fields


def _suppression_request(draw: st.DrawFn, method: str) -> Any:
    if method == "ListSuppressions":
        return pb.ListSuppressionsRequest(
            tenant_id=draw(tenants),
            page_size=draw(st.integers(0, 1100) | int32s),
            page_token=draw(optional_strings),
        )
    request = getattr(pb, f"{method}Request")(
        tenant_id=draw(tenants), identifiers=draw(st.lists(identifiers, max_size=5))
    )
    if method != "CheckSuppression":
        request.reason_code = pb.ReasonCode.ValueType(draw(st.integers(0, 6) | int32s))
    return request


@st.composite
def calls(draw: st.DrawFn) -> tuple[str, Any]:
    """One RPC name and a request for it."""
    method = draw(
        st.sampled_from(
            [
                "Erase",
                "Anonymize",
                "Export",
                "GetJob",
                "ListJobs",
                "WatchJob",
                "CancelJob",
                "VerifyAuditLog",
                "SetLegalHold",
                "ReleaseLegalHold",
                "ListLegalHolds",
                "CheckSuppression",
                "Suppress",
                "Unsuppress",
                "ListSuppressions",
            ]
        )
    )
    request: Any
    if method == "Erase":
        request = pb.EraseRequest(**_job_fields(draw))
    elif method == "Anonymize":
        request = pb.AnonymizeRequest(**_job_fields(draw))
    elif method == "Export":
        fields = _job_fields(draw)
        request = pb.ExportRequest(  # Export has no times
            tenant_id=fields["tenant_id"],
            data_types=fields["data_types"],
            format=pb.ExportFormat.ValueType(draw(st.just(1) | int32s)),  # 1: NDJSON
        )
        if "subject" in fields:
            request.subject.CopyFrom(fields["subject"])
    elif method == "ListJobs":
        request = pb.ListJobsRequest(
            tenant_id=draw(tenants),
            state=pb.JobState.ValueType(draw(st.integers(0, 6) | int32s)),
            kind=pb.JobKind.ValueType(draw(st.integers(0, 2) | int32s)),
            page_size=draw(st.integers(0, 600) | int32s),
            page_token=draw(optional_strings),
        )
    elif method == "VerifyAuditLog":
        request = pb.VerifyAuditLogRequest(tenant_id=draw(tenants))
    elif method == "SetLegalHold":
        request = pb.SetLegalHoldRequest(tenant_id=draw(tenants), reason=draw(optional_strings))
        subject = draw(subjects)
        if subject is not None:
            request.subject.CopyFrom(subject)
    elif method == "ReleaseLegalHold":
        request = pb.ReleaseLegalHoldRequest(hold_id=draw(job_ids), reason=draw(optional_strings))
    elif method == "ListLegalHolds":
        request = pb.ListLegalHoldsRequest(
            tenant_id=draw(tenants), include_released=draw(st.booleans())
        )
    elif method.endswith(("Suppression", "Suppressions", "Suppress", "Unsuppress")):
        request = _suppression_request(draw, method)
    else:
        request = getattr(pb, f"{method}Request")(job_id=draw(job_ids))
    return method, request


SERVICE = pb.DESCRIPTOR.services_by_name["PrivacyService"]


def _string_fields(method: str) -> list[int]:
    fields = SERVICE.methods_by_name[method].input_type.fields
    return [f.number for f in fields if f.type == descriptor.FieldDescriptor.TYPE_STRING]


@st.composite
def raw_calls(draw: st.DrawFn) -> tuple[str, bytes]:
    """One RPC name and bytes for it: a request spoiled, or noise."""
    method, request = draw(calls())
    wire: bytes = request.SerializeToString()
    spoil = draw(st.sampled_from(["noise", "cut", "byte", "utf8"]))
    if spoil == "noise":
        return method, draw(st.binary(max_size=300))
    if spoil == "cut" and wire:
        return method, wire[: draw(st.integers(0, len(wire) - 1))]
    if spoil == "byte" and wire:
        at = draw(st.integers(0, len(wire) - 1))
        return method, wire[:at] + bytes([draw(st.integers(0, 255))]) + wire[at + 1 :]
    # A string field holding bytes that are not UTF-8 (a lone continuation byte).
    value = draw(st.binary(max_size=40)) + b"\x80" + draw(st.binary(max_size=40))
    number = draw(st.sampled_from(_string_fields(method)))
    return method, wire + bytes([number << 3 | 2, len(value)]) + value


async def _counts(db: asyncpg.Connection) -> dict[str, int]:
    return {t: await db.fetchval(f"SELECT count(*) FROM {t}") for t in WRITTEN}


async def _call(stub: Any, method: str, request: Any) -> grpc.StatusCode:
    rpc: Callable[..., Any] = getattr(stub, method)
    try:
        if method in ("Export", "WatchJob"):
            async for _ in rpc(request, timeout=CALL_TIMEOUT):
                pass
        else:
            answer: Awaitable[Any] = rpc(request, timeout=CALL_TIMEOUT)
            await answer
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


async def _call_raw(channel: grpc.aio.Channel, method: str, body: bytes) -> grpc.StatusCode:
    path = f"/{SERVICE.full_name}/{method}"
    try:
        if SERVICE.methods_by_name[method].server_streaming:
            stream: grpc.aio.UnaryStreamMultiCallable[bytes, bytes] = channel.unary_stream(path)
            async for _ in stream(body, timeout=CALL_TIMEOUT):
                pass
        else:
            unary: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(path)
            await unary(body, timeout=CALL_TIMEOUT)
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


@pytest.fixture
async def channel(no_workers: Settings, db: asyncpg.Connection) -> AsyncIterator[grpc.aio.Channel]:
    """A server with data to find and no workers: only the RPCs write, so counts are exact."""
    await factories.tenant(db, "acme")
    await factories.contact(db, "acme", "Jane", "Doe", messages=2)
    app = App(no_workers)
    await app.start()
    try:
        async with open_channel(f"127.0.0.1:{app.port}", token=app.dev_token) as channel:
            yield channel
            # Still serving after everything the fuzzer sent.
            listed = await stub_list(channel)
            assert isinstance(listed, pb.ListJobsResponse)
    finally:
        await app.stop()


@pytest.fixture
def stub(channel: grpc.aio.Channel) -> Any:
    return privacy_pb2_grpc.PrivacyServiceStub(channel)


async def stub_list(channel: grpc.aio.Channel) -> pb.ListJobsResponse:
    stub = privacy_pb2_grpc.PrivacyServiceStub(channel)
    answer: pb.ListJobsResponse = await stub.ListJobs(
        pb.ListJobsRequest(tenant_id="acme"), timeout=CALL_TIMEOUT
    )
    return answer


@EXAMPLES
@given(call=calls())
# Text PostgreSQL cannot store, in fields that reach the database.
@example(
    call=(
        "Erase",
        pb.EraseRequest(
            tenant_id="acme",
            subject=pb.Subject(email="jane.doe@example.com"),
            reason="nul\x00byte",
            idempotency_key="k\x00",
        ),
    )
)
@example(call=("Export", pb.ExportRequest(tenant_id="acme", subject=pb.Subject(phone="\x00"))))
async def test_fuzzed_requests_get_precise_statuses_and_refusals_write_nothing(
    stub: Any, db: asyncpg.Connection, call: tuple[str, Any]
) -> None:
    method, request = call
    before = await _counts(db)
    code = await _call(stub, method, request)
    assert code not in NEVER, (method, request)
    if code is not grpc.StatusCode.OK:
        assert await _counts(db) == before, (method, code)


@EXAMPLES
@given(call=raw_calls())
@example(call=("Erase", b"\x0a\x05ab"))  # a string field longer than the message
@example(call=("WatchJob", b"\x0a\x02\xc3\x28"))  # job_id not UTF-8
async def test_raw_bytes_get_precise_statuses_and_refusals_write_nothing(
    channel: grpc.aio.Channel, db: asyncpg.Connection, call: tuple[str, bytes]
) -> None:
    method, body = call
    before = await _counts(db)
    code = await _call_raw(channel, method, body)
    assert code not in NEVER, (method, body)
    if code is not grpc.StatusCode.OK:
        assert await _counts(db) == before, (method, code)
