"""Real processes: `privacyctl serve` shuts down gracefully; `privacyctl worker` takes over."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import asyncpg
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from atomicrm.privacy.v1 import privacy_pb2 as pb
from clients.client import PrivacyClient, PrivacyClientError, open_channel, subject
from tests import factories
from tests.helpers import processes
from tests.helpers.waiting import eventually, fetched_until


async def test_sigterm_flips_health_finishes_the_batch_and_a_worker_takes_over(
    db: asyncpg.Connection, db_url: str, blob_dir: Path, tmp_path: Path
) -> None:
    await factories.tenant(db)
    jane = await factories.contact(db, "acme", "Jane", "Doe", messages=300)
    port = processes.free_port()
    env = processes.env(
        db_url,
        blob_dir,
        PRIVACY_GRPC_ADDR=f"127.0.0.1:{port}",
        PRIVACY_WORKERS="1",
        PRIVACY_BATCH_SIZE="1",
        PRIVACY_GRACE_SECONDS="10",
    )
    log = tmp_path / "serve.log"
    server = await processes.start(["serve"], env, log)
    try:
        await processes.wait_serving(port)
        async with open_channel(f"127.0.0.1:{port}", token=processes.dev_token(env)) as channel:
            client = PrivacyClient(channel=channel)
            job = await client.erase("acme", subject(email=jane.email))
            await fetched_until(db, "SELECT count(*) FROM messages", until=lambda n: n <= 290)
            watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest())
            assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
            server.send_signal(signal.SIGTERM)
            assert (await watch.read()).status == health_pb2.HealthCheckResponse.NOT_SERVING
        assert await asyncio.wait_for(server.wait(), 20) == 0
    finally:
        if server.returncode is None:
            server.kill()
    row = await db.fetchrow("SELECT state, lease_owner FROM privacy_jobs WHERE id = $1", job.id)
    assert row is not None
    assert row["lease_owner"] is None  # released for the next worker
    left = await db.fetchval("SELECT count(*) FROM messages")
    done = await db.fetchval(
        "SELECT coalesce(sum((details->>'processed')::int), 0) FROM privacy_audit_log "
        "WHERE action = 'erase.apply' AND data_type = 'messages'"
    )
    assert left + done == 300  # every committed batch is in the audit log, nothing half-done

    worker = await processes.start(["worker"], env, tmp_path / "worker.log")
    try:
        await fetched_until(
            db,
            "SELECT state FROM privacy_jobs WHERE id = $1",
            job.id,
            until=lambda state: state in ("succeeded", "failed"),
        )
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(worker.wait(), 20) == 0
    finally:
        if worker.returncode is None:
            worker.kill()
    assert await db.fetchval("SELECT state FROM privacy_jobs WHERE id = $1", job.id) == "succeeded"
    assert await db.fetchval("SELECT count(*) FROM messages") == 0
    assert await db.fetchval("SELECT count(*) FROM contacts") == 0
    # Logs: JSON lines, jobs named by id, and nothing of the person anywhere.
    logs = log.read_text() + (tmp_path / "worker.log").read_text()
    entries = [json.loads(line) for line in logs.splitlines() if line.strip()]
    assert {"job leased", "job finished", "worker stopped"} <= {e["msg"] for e in entries}
    assert all(e["job_id"] == job.id for e in entries if e["msg"] in ("job leased", "job finished"))
    for identifier in (jane.email, jane.full_name, jane.phone, "5550102030", "Jane"):
        assert identifier.lower() not in logs.lower()


async def test_a_worker_killed_mid_job_loses_nothing_and_repeats_nothing(
    db: asyncpg.Connection, db_url: str, blob_dir: Path, tmp_path: Path
) -> None:
    await factories.tenant(db)
    jane = await factories.contact(db, "acme", "Jane", "Doe", messages=300)
    port = processes.free_port()
    env = processes.env(
        db_url,
        blob_dir,
        PRIVACY_GRPC_ADDR=f"127.0.0.1:{port}",
        PRIVACY_WORKERS="0",
    )
    server = await processes.start(["serve"], env, tmp_path / "serve.log")
    worker_env = {
        **env,
        "PRIVACY_BATCH_SIZE": "1",
        "PRIVACY_LEASE_SECONDS": "1",
        "PRIVACY_WORKERS": "1",
    }
    try:
        await processes.wait_serving(port)
        async with PrivacyClient(f"127.0.0.1:{port}", token=processes.dev_token(env)) as client:
            job = await client.erase("acme", subject(email=jane.email))
            doomed = await processes.start(["worker"], worker_env, tmp_path / "doomed.log")
            await fetched_until(db, "SELECT count(*) FROM messages", until=lambda n: n <= 250)
            doomed.kill()  # SIGKILL: no shutdown, a batch may be half done
            await doomed.wait()
            survivor = await processes.start(["worker"], worker_env, tmp_path / "next.log")
            try:
                done = await asyncio.wait_for(client.wait_job(job.id), 60)
            finally:
                survivor.terminate()
                await survivor.wait()
    finally:
        server.terminate()
        await server.wait()
    assert done.state == pb.JOB_STATE_SUCCEEDED, done.error_message
    assert await db.fetchval("SELECT count(*) FROM messages") == 0
    # Exactly once in effect: the committed batches account for every row, once.
    processed = await db.fetchval(
        "SELECT sum((details->>'processed')::int) FROM privacy_audit_log "
        "WHERE action = 'erase.apply' AND data_type = 'messages'"
    )
    assert processed == 300
    owners = await db.fetch(
        "SELECT DISTINCT actor FROM privacy_audit_log WHERE action = 'erase.apply'"
    )
    assert len(owners) == 2  # the killed worker's batches, then the survivor's


async def test_sigterm_during_traffic_loses_no_accepted_job(
    db: asyncpg.Connection, db_url: str, blob_dir: Path, tmp_path: Path
) -> None:
    """Callers keep submitting while the server is told to stop: every job the
    server accepted is in the database and runs; every refusal is UNAVAILABLE or
    CANCELLED, and retrying it with its idempotency key on the next server makes
    exactly one job."""
    await factories.tenant(db)
    people = [await factories.contact(db, "acme", f"P{i}", "Doe", messages=1) for i in range(40)]
    port = processes.free_port()
    env = processes.env(
        db_url,
        blob_dir,
        PRIVACY_GRPC_ADDR=f"127.0.0.1:{port}",
        PRIVACY_WORKERS="0",
        PRIVACY_RATE_LIMIT_PER_MINUTE="0",  # a burst of 40 is the point here
    )
    server = await processes.start(["serve"], env, tmp_path / "serve.log")
    accepted: dict[str, str] = {}  # idempotency key -> job id
    refused: dict[str, grpc.StatusCode] = {}
    stopping = asyncio.Event()
    try:
        await processes.wait_serving(port)
        token = processes.dev_token(env)
        async with PrivacyClient(f"127.0.0.1:{port}", token=token) as client:

            async def submit(i: int) -> None:
                key = f"ticket-{i}"
                if i >= 10:  # the rest go out around the signal
                    await asyncio.sleep(0.005 * (i - 10))
                try:
                    job = await client.erase(
                        "acme", subject(email=people[i].email), idempotency_key=key
                    )
                    accepted[key] = job.id
                except PrivacyClientError as error:
                    assert stopping.is_set()  # refusals come only once we stop
                    refused[key] = error.code

            await asyncio.gather(*(submit(i) for i in range(10)))  # accepted before
            calls = [asyncio.create_task(submit(i)) for i in range(10, len(people))]

            async def later_calls_going_out() -> bool:
                return len(accepted) > 10

            await eventually(later_calls_going_out, what="a later call accepted")
            await _sigterm_seen_by_health(server, port, stopping)
            await asyncio.gather(*calls)
        assert await asyncio.wait_for(server.wait(), 20) == 0
    finally:
        if server.returncode is None:
            server.kill()
    await _nothing_accepted_was_lost(db, people, accepted, refused)

    # The next server: the refused are retried with their keys, then everything runs.
    env["PRIVACY_WORKERS"] = "2"
    server = await processes.start(["serve"], env, tmp_path / "serve2.log")
    try:
        await processes.wait_serving(port)
        async with PrivacyClient(f"127.0.0.1:{port}", token=processes.dev_token(env)) as client:
            states = await _retried_to_their_end(client, people, accepted, refused)
    finally:
        server.send_signal(signal.SIGTERM)
        await asyncio.wait_for(server.wait(), 20)
    assert states == {pb.JOB_STATE_SUCCEEDED}
    assert await db.fetchval("SELECT count(*) FROM privacy_jobs") == len(people)
    assert await db.fetchval("SELECT count(*) FROM contacts") == 0


async def _sigterm_seen_by_health(
    server: asyncio.subprocess.Process, port: int, stopping: asyncio.Event
) -> None:
    """SIGTERM to the server (`stopping` set first) while its health is watched: it
    goes from SERVING to NOT_SERVING."""
    async with open_channel(f"127.0.0.1:{port}") as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest())
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
        stopping.set()
        server.send_signal(signal.SIGTERM)
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.NOT_SERVING


async def _nothing_accepted_was_lost(
    db: asyncpg.Connection,
    people: list[factories.Person],
    accepted: dict[str, str],
    refused: dict[str, grpc.StatusCode],
) -> None:
    assert len(accepted) + len(refused) == len(people)
    assert len(accepted) >= 10
    # Calls the stopping server did not take: both codes mean "retry with the same key".
    assert set(refused.values()) <= {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED}
    stored = {
        r["idempotency_key"]: str(r["id"]) for r in await db.fetch("SELECT * FROM privacy_jobs")
    }
    assert {k: stored[k] for k in accepted} == accepted  # nothing accepted was lost


async def _retried_to_their_end(
    client: PrivacyClient,
    people: list[factories.Person],
    accepted: dict[str, str],
    refused: dict[str, grpc.StatusCode],
) -> set[pb.JobState.ValueType]:
    """The refused retried with their keys, and one accepted again; the states every
    job ended in."""
    jobs = dict(accepted)
    for key in [*refused, "ticket-0"]:  # ticket-0 was accepted: the same job again
        i = int(key.removeprefix("ticket-"))
        job = await client.erase("acme", subject(email=people[i].email), idempotency_key=key)
        assert jobs.setdefault(key, job.id) == job.id
    return {(await client.wait_job(job_id)).state for job_id in jobs.values()}
