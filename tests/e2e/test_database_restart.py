"""PostgreSQL restarted mid-job: the job still finishes, with every row processed once.

The proof compares with a reference: the same data, the same tenant key, the same
request, run without interruption. Anonymize is not idempotent (a fake of a fake
is another fake), so a batch applied twice, or skipped, shows up as a difference.

This test runs its own PostgreSQL (pgserver) whatever DATABASE_URL says, because
it restarts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import warnings
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from atomicrm.privacy.v1 import privacy_pb2 as pb
from clients.client import PrivacyClient, subject
from server.app import App
from server.config import Settings
from server.database import migrate
from tests import factories
from tests.helpers.database import with_database
from tests.helpers.waiting import fetched_until

TABLES = ("contacts", "messages", "notes", "files")


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver.postgres_server import get_server

    server = get_server(tmp_path / "pg", cleanup_mode="stop")
    try:
        yield server
    finally:
        server.cleanup()
        # pgserver does not track a restarted postmaster: stop it here, unless the
        # cleanup did (pg_ctl then fails, which is fine).
        with contextlib.suppress(Exception):
            _pg_ctl(server, "-m", "fast", "stop")


def _pg_ctl(server: Any, *args: str) -> None:
    from pgserver._commands import create_command_function

    create_command_function("pg_ctl")(
        ["-w", *args], pgdata=server.pgdata, user=server.system_user, timeout=60
    )


def _restart(server: Any) -> None:
    """Stop PostgreSQL as a crash would (no checkpoint, connections cut) and start it."""
    _pg_ctl(server, "-m", "immediate", "restart")


async def _database(admin_url: str, name: str, key: bytes) -> asyncpg.Connection:
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    conn = await asyncpg.connect(with_database(admin_url, name))
    await migrate(conn)
    await factories.tenant(conn)
    jane = await factories.contact(conn, "acme", "Jane", "Doe", messages=120)
    for first in ("Bob", "Carol", "Dan"):
        other = await factories.contact(conn, "acme", first, "Roe", messages=3)
        await conn.execute(
            "INSERT INTO notes (tenant_id, contact_id, body) VALUES ('acme', $1, $2)",
            other.id,
            f"met {jane.full_name} ({jane.email}) on Tuesday",
        )
    await conn.execute("INSERT INTO privacy_tenant_keys (tenant_id, key) VALUES ('acme', $1)", key)
    return conn


async def _snapshot(conn: asyncpg.Connection) -> dict[str, list[dict[str, Any]]]:
    """Every row, less the times the two seedings made (created_at, sent_at)."""
    return {
        t: [
            {k: v for k, v in r.items() if not isinstance(v, datetime)}
            for r in await conn.fetch(f"SELECT * FROM {t} ORDER BY id")
        ]
        for t in TABLES
    }


async def _anonymize_jane(app: App) -> str:
    async with PrivacyClient(f"127.0.0.1:{app.port}", token=app.dev_token) as client:
        # Fakes from the tenant's key (set alike in both databases): the outcomes compare.
        job = await client.anonymize(
            "acme", subject(email="jane.doe@example.com"), consistent_across_jobs=True
        )
    return job.id


async def test_a_postgresql_restart_mid_job_changes_nothing_in_the_outcome(
    own_server: Any, settings: Settings, tmp_path: Path
) -> None:
    admin_url = own_server.get_uri()
    key = secrets.token_bytes(32)
    reference = await _database(admin_url, "reference", key)
    restarted = await _database(admin_url, "restarted", key)
    base = replace(
        settings,
        batch_size=2,
        lease=timedelta(seconds=2),  # a lost worker's job is taken again soon
        retry_base=timedelta(milliseconds=200),
        max_attempts=20,
    )
    try:
        app = App(replace(base, database_url=with_database(admin_url, "reference")))
        await app.start()
        try:
            job_id = await _anonymize_jane(app)
            async with PrivacyClient(f"127.0.0.1:{app.port}", token=app.dev_token) as client:
                done = await asyncio.wait_for(client.wait_job(job_id), 60)
            assert done.state == pb.JOB_STATE_SUCCEEDED, done.error_message
        finally:
            await app.stop()

        app = App(replace(base, database_url=with_database(admin_url, "restarted")))
        await app.start()
        try:
            job_id = await _anonymize_jane(app)
            await fetched_until(
                restarted,
                "SELECT done > 10 FROM privacy_job_tasks "
                "WHERE job_id = $1 AND data_type = 'messages' AND step = 'apply'",
                job_id,
                until=bool,
                timeout=60,
            )
            await asyncio.to_thread(_restart, own_server)
            # The restart cut this test's connections too.
            restarted = await asyncpg.connect(with_database(admin_url, "restarted"))
            reference = await asyncpg.connect(with_database(admin_url, "reference"))
            async with PrivacyClient(f"127.0.0.1:{app.port}", token=app.dev_token) as client:
                done = await asyncio.wait_for(client.wait_job(job_id), 120)
            assert done.state == pb.JOB_STATE_SUCCEEDED, done.error_message
        finally:
            await app.stop()

        after = await _snapshot(restarted)
        assert after == await _snapshot(reference)
        text = str(after)
        assert "Jane" not in text
        assert "jane.doe@example.com" not in text  # it did happen
        assert len(after["messages"]) == 129
        processed = await restarted.fetchval(
            "SELECT sum((details->>'processed')::int) FROM privacy_audit_log "
            "WHERE action = 'anonymize.apply' AND data_type = 'messages'"
        )
        assert processed == 120  # the committed batches account for every row, once
        restarted_batches = await restarted.fetchval(
            "SELECT count(*) FROM privacy_audit_log WHERE action = 'anonymize.apply'"
        )
        assert restarted_batches > 1
    finally:
        await reference.close()
        await restarted.close()
