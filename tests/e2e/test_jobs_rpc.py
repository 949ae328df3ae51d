"""The job RPCs over a real server: dry run, idempotency, listing, watching, health."""

from __future__ import annotations

import asyncio

import asyncpg
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from atomicrm.privacy.v1 import privacy_pb2 as pb
from clients.client import PrivacyClient, PrivacyClientError, open_channel, subject
from server.app import App
from tests import factories
from tests.helpers.waiting import a_worker_cycled


async def test_dry_run_counts_and_changes_nothing(
    client: PrivacyClient, db: asyncpg.Connection
) -> None:
    await factories.tenant(db)
    jane = await factories.contact(db, "acme", "Jane", "Doe", messages=4)
    job = await client.erase("acme", subject(email=jane.email), dry_run=True)
    assert job.state == pb.JOB_STATE_SUCCEEDED
    assert job.dry_run
    assert {p.data_type: (p.planned, p.done) for p in job.progress} == {
        "files": (0, 0),
        "messages": (4, 0),
        "activity": (0, 0),
        "contacts": (1, 0),
        "accounts": (0, 0),
    }
    await a_worker_cycled(2)  # a (wrong) worker had the chance to run it
    assert await db.fetchval("SELECT count(*) FROM messages") == 4
    assert (await client.get_job(job.id)).progress == job.progress
    actions = [r["action"] for r in await db.fetch("SELECT action FROM privacy_audit_log")]
    assert actions == ["erase.dry_run"]


async def test_concurrent_retries_with_one_key_make_one_job(
    client: PrivacyClient, db: asyncpg.Connection
) -> None:
    await factories.tenant(db)
    jane = await factories.contact(db, "acme", "Jane", "Doe", messages=2)
    jobs = await asyncio.gather(
        *(
            client.erase("acme", subject(email=jane.email), idempotency_key="req-7")
            for _ in range(8)
        )
    )
    assert len({j.id for j in jobs}) == 1
    assert await db.fetchval("SELECT count(*) FROM privacy_jobs") == 1
    assert (
        await db.fetchval("SELECT count(*) FROM privacy_audit_log WHERE action = 'erase.requested'")
        == 1
    )


async def test_phone_matches_in_any_format(client: PrivacyClient, db: asyncpg.Connection) -> None:
    await factories.tenant(db)
    jane = await factories.contact(db, "acme", "Jane", "Doe", phone="+1 (555) 010-2030")
    for written in ("15550102030", "555.010.2030", "+1 555 010 2030"):
        job = await client.erase("acme", subject(phone=written), dry_run=True)
        assert {p.data_type: p.planned for p in job.progress}["contacts"] == 1
    done = await client.wait_job((await client.erase("acme", subject(phone="5550102030"))).id)
    assert done.state == pb.JOB_STATE_SUCCEEDED
    assert await db.fetchval("SELECT count(*) FROM contacts WHERE id = $1", jane.id) == 0


async def test_data_types_filter_limits_the_job(
    client: PrivacyClient, db: asyncpg.Connection
) -> None:
    await factories.tenant(db)
    jane = await factories.contact(db, "acme", "Jane", "Doe", messages=3)
    job = await client.erase("acme", subject(email=jane.email), data_types=["messages"])
    done = await client.wait_job(job.id)
    assert [p.data_type for p in done.progress] == ["messages"]
    assert await db.fetchval("SELECT count(*) FROM messages") == 0
    assert await db.fetchval("SELECT count(*) FROM contacts") == 1


async def test_watch_streams_progress_until_the_end(
    client: PrivacyClient, db: asyncpg.Connection
) -> None:
    await factories.tenant(db)
    jane = await factories.contact(db, "acme", "Jane", "Doe", messages=12)
    job = await client.erase("acme", subject(email=jane.email))
    updates = [j async for j in client.watch_job(job.id)]
    assert updates[-1].state == pb.JOB_STATE_SUCCEEDED
    done = [sum(p.done for p in u.progress) for u in updates]
    assert done == sorted(done)
    assert done[-1] == 13  # 12 messages + the contact
    assert len(updates) >= 2  # it saw the job before its end, not just the result


async def test_list_jobs_pages_newest_first_and_filters(
    client: PrivacyClient, db: asyncpg.Connection
) -> None:
    await factories.tenant(db)
    jane = await factories.contact(db, "acme", "Jane", "Doe")
    ids = [
        (await client.erase("acme", subject(email=jane.email), dry_run=True)).id for _ in range(5)
    ]
    seen: list[str] = []
    token = ""
    while True:
        page = await client.list_jobs("acme", page_size=2, page_token=token)
        seen.extend(j.id for j in page.jobs)
        token = page.next_page_token
        if not token:
            break
    assert seen == list(reversed(ids))
    running = await client.list_jobs("acme", state=pb.JOB_STATE_RUNNING)
    assert list(running.jobs) == []
    assert len((await client.list_jobs("acme", kind=pb.JOB_KIND_ERASE)).jobs) == 5
    # A tenant nobody knows is a mistake (a typo), not an empty listing.
    with pytest.raises(PrivacyClientError) as unknown:
        await client.list_jobs("other")
    assert unknown.value.code is grpc.StatusCode.NOT_FOUND
    assert unknown.value.message == "no tenant with tenant_id 'other'"


async def test_health_and_reflection(app: App) -> None:
    async with open_channel(f"127.0.0.1:{app.port}", token=app.dev_token) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "atomicrm.privacy.v1.PrivacyService"):
            answer = await health.Check(health_pb2.HealthCheckRequest(service=service))
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = reflection.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        names = [s.name async for r in responses for s in r.list_services_response.service]
    assert "atomicrm.privacy.v1.PrivacyService" in names
    assert "grpc.health.v1.Health" in names
    # Health is open to probes; reflection only to known callers.
    async with open_channel(f"127.0.0.1:{app.port}") as anonymous:
        answer = await health_pb2_grpc.HealthStub(anonymous).Check(health_pb2.HealthCheckRequest())
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
        refused = reflection_pb2_grpc.ServerReflectionStub(anonymous).ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        with pytest.raises(grpc.aio.AioRpcError) as error:
            async for _ in refused:
                pass
    assert error.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert "no credentials" in (error.value.details() or "")
