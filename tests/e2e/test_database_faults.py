"""When the database is away or every connection is busy, RPCs answer UNAVAILABLE
within the configured timeout instead of hanging, and the service recovers by itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import asyncpg
import grpc
import pytest

from atomicrm.privacy.v1 import privacy_pb2 as pb
from atomicrm.privacy.v1 import privacy_pb2_grpc
from clients.client import open_channel
from server.app import App
from server.config import Settings
from tests import factories
from tests.helpers.dbproxy import DatabaseProxy
from tests.helpers.waiting import eventually

# Hang guards only: each is far above the configured database timeout.
HANG_GUARD = 30
BURST = 200


@pytest.fixture(autouse=True)
async def acme(db: asyncpg.Connection) -> None:
    """The tenant the probe call names (a tenant the service does not know is NOT_FOUND)."""
    await factories.tenant(db, "acme")


async def _list(stub: privacy_pb2_grpc.PrivacyServiceAsyncStub) -> grpc.StatusCode:
    try:
        await stub.ListJobs(pb.ListJobsRequest(tenant_id="acme"), timeout=HANG_GUARD)
    except grpc.aio.AioRpcError as error:
        code, details = error.code(), error.details() or ""
    else:
        return grpc.StatusCode.OK
    if code is grpc.StatusCode.UNAVAILABLE:
        assert "retry" in details  # says what to do
    return code


async def _burst(stub: privacy_pb2_grpc.PrivacyServiceAsyncStub) -> list[grpc.StatusCode]:
    calls = [_list(stub) for _ in range(BURST)]
    return await asyncio.wait_for(asyncio.gather(*calls), HANG_GUARD)


@pytest.fixture
async def small_pool(no_workers: Settings) -> AsyncIterator[App]:
    app = App(replace(no_workers, pool_size=2, db_timeout=timedelta(milliseconds=500)))
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


async def test_a_burst_against_an_exhausted_pool_gets_unavailable_then_recovers(
    small_pool: App,
) -> None:
    assert small_pool.pool is not None
    async with open_channel(f"127.0.0.1:{small_pool.port}", token=small_pool.dev_token) as channel:
        stub = privacy_pb2_grpc.PrivacyServiceStub(channel)
        # Every connection of the pool is taken (as by slow callers): nobody gets one.
        held = [await small_pool.pool.acquire() for _ in range(2)]
        try:
            codes = await _burst(stub)
        finally:
            for conn in held:
                await small_pool.pool.release(conn)
        assert set(codes) == {grpc.StatusCode.UNAVAILABLE}
        # Free again: a burst of 200 callers over 2 connections, no deadlock; each
        # either gets its answer or a clear UNAVAILABLE.
        codes = await _burst(stub)
        assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE}
        assert grpc.StatusCode.OK in codes
        assert await _list(stub) is grpc.StatusCode.OK


async def test_database_away_answers_unavailable_and_the_service_recovers(
    no_workers: Settings,
) -> None:
    assert no_workers.database_url is not None
    proxy = DatabaseProxy(no_workers.database_url)
    await proxy.start()
    app = App(
        replace(no_workers, database_url=proxy.url, pool_size=2, db_timeout=timedelta(seconds=1))
    )
    await app.start()
    try:
        async with open_channel(f"127.0.0.1:{app.port}", token=app.dev_token) as channel:
            stub = privacy_pb2_grpc.PrivacyServiceStub(channel)
            assert await _list(stub) is grpc.StatusCode.OK

            await proxy.cut()
            # Bounded: the hang guard in _list is far above the 1 s database timeout.
            assert await _list(stub) is grpc.StatusCode.UNAVAILABLE
            assert await _list(stub) is grpc.StatusCode.UNAVAILABLE

            await proxy.restore()

            async def recovered() -> bool:
                return await _list(stub) is grpc.StatusCode.OK

            # It recovers without a restart.
            await eventually(recovered, timeout=HANG_GUARD, what="the service recovering")
    finally:
        await app.stop()
        await proxy.cut()
