"""Bytes that are no request message: refused with a precise status after
authentication, counted in the RPC metrics, over a real server.

gRPC parses a request before any handler runs; the raw bytes go out through a
channel's own unary_unary/unary_stream with identity serializers, as a buggy or
hostile client would send them.
"""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import replace

import asyncpg
import grpc
import pytest
from google.protobuf import descriptor
from prometheus_client.parser import text_string_to_metric_families

from atomicrm.privacy.v1 import privacy_pb2 as pb
from clients.client import PrivacyClientError
from server.app import App
from server.config import Settings
from tests import factories

SERVICE = pb.DESCRIPTOR.services_by_name["PrivacyService"]
HANDLED = "privacy_grpc_server_handled_total"
# Tables any RPC may write: a refused call leaves them as they were.
WRITTEN = ("privacy_jobs", "privacy_job_tasks", "privacy_audit_log", "privacy_legal_holds")


def _string_field(method: descriptor.MethodDescriptor) -> int:
    """The number of a string field of the method's request (each has one)."""
    return next(
        f.number
        for f in method.input_type.fields
        if f.type == descriptor.FieldDescriptor.TYPE_STRING
    )


def _invalid_utf8(method: descriptor.MethodDescriptor) -> bytes:
    """A well-formed message whose string field holds bytes that are not UTF-8."""
    value = b"acme\xc3\x28"
    return bytes([_string_field(method) << 3 | 2, len(value)]) + value


# Bytes no request message parses from.
CORRUPT = {
    "truncated": b"\x0a\x05ab",  # a string field of 5 bytes holding 2
    "bad wire type": b"\xff\xff\xff",
    "endless varint": b"\x08" + b"\xff" * 11,
}


def _bodies(method: descriptor.MethodDescriptor) -> dict[str, bytes]:
    return {**CORRUPT, "invalid UTF-8": _invalid_utf8(method)}


def _scrape(port: int) -> dict[tuple[str, str], float]:
    """privacy_grpc_server_handled_total by (method, code), from the endpoint."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return {
        (s.labels["grpc_method"], s.labels["grpc_code"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == HANDLED
    }


async def _raw_call(
    channel: grpc.aio.Channel,
    method: descriptor.MethodDescriptor,
    body: bytes,
    metadata: tuple[tuple[str, str], ...],
) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await _call(channel, method, body, metadata)
    return raised.value


async def _call(
    channel: grpc.aio.Channel,
    method: descriptor.MethodDescriptor,
    body: bytes,
    metadata: tuple[tuple[str, str], ...],
) -> None:
    path = f"/{SERVICE.full_name}/{method.name}"
    if method.server_streaming:
        stream: grpc.aio.UnaryStreamMultiCallable[bytes, bytes] = channel.unary_stream(path)
        async for _ in stream(body, metadata=metadata, timeout=10):
            pass
    else:
        unary: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(path)
        await unary(body, metadata=metadata, timeout=10)


async def _counts(db: asyncpg.Connection) -> dict[str, int]:
    return {t: await db.fetchval(f"SELECT count(*) FROM {t}") for t in WRITTEN}


@pytest.fixture
async def metered(settings: Settings, db: asyncpg.Connection) -> AsyncIterator[App]:
    await factories.tenant(db, "acme")
    await factories.contact(db, "acme", "Jane", "Doe")
    async with App(replace(settings, workers=0, metrics_addr="127.0.0.1:0")) as app:
        yield app


async def test_malformed_requests_are_invalid_argument_and_counted(
    metered: App, db: asyncpg.Connection
) -> None:
    assert metered.dev_token is not None
    token = (("authorization", f"Bearer {metered.dev_token}"),)
    before_rows = await _counts(db)
    before = await asyncio.to_thread(_scrape, metered.metrics_port)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{metered.port}") as channel:
        for method in SERVICE.methods:
            for what, body in _bodies(method).items():
                error = PrivacyClientError.from_rpc_error(
                    await _raw_call(channel, method, body, token)
                )
                assert error.code is grpc.StatusCode.INVALID_ARGUMENT, (method.name, what, error)
                assert error.message.startswith(
                    f"the request is not a valid {method.input_type.full_name}"
                ), error.message
                assert error.field_violations == ((("", error.message)),)
    after = await asyncio.to_thread(_scrape, metered.metrics_port)
    for method in SERVICE.methods:
        key = (method.name, "INVALID_ARGUMENT")
        assert after.get(key, 0) - before.get(key, 0) == len(_bodies(method)), method.name
    assert await _counts(db) == before_rows


@pytest.mark.parametrize(
    ("metadata", "says"),
    [((), "no credentials"), ((("authorization", "Bearer prv_nope"),), "unknown or revoked")],
    ids=["no token", "unknown token"],
)
async def test_malformed_requests_without_a_valid_token_are_unauthenticated(
    metered: App, db: asyncpg.Connection, metadata: tuple[tuple[str, str], ...], says: str
) -> None:
    before_rows = await _counts(db)
    before = await asyncio.to_thread(_scrape, metered.metrics_port)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{metered.port}") as channel:
        for method in SERVICE.methods:
            for body in _bodies(method).values():
                error = await _raw_call(channel, method, body, metadata)
                assert error.code() is grpc.StatusCode.UNAUTHENTICATED, method.name
                assert says in (error.details() or "")
    after = await asyncio.to_thread(_scrape, metered.metrics_port)
    for method in SERVICE.methods:
        key = (method.name, "UNAUTHENTICATED")
        assert after.get(key, 0) - before.get(key, 0) == len(_bodies(method)), method.name
    assert await _counts(db) == before_rows
