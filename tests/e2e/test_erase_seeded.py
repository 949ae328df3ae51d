"""The foundation's promise end to end: seed → Erase by email over gRPC → nothing of
the contact left in a pg_dump or the blob store, everyone else untouched, the
audit log only grown. And the same through the real CLI against a real server."""

from __future__ import annotations

import asyncio
import json
import zipfile
from pathlib import Path

import asyncpg
import pytest

from atomicrm.privacy.v1 import privacy_pb2 as pb
from clients.client import PrivacyClient, subject
from demo.seeding import seed_tenant
from server.blobs import BlobStore
from tests.helpers import blob_view, processes
from tests.helpers.worlds import pg_dump

TABLES = (
    "contacts",
    "messages",
    "notes",
    "deals",
    "files",
    "users",
    "sessions",
    "usage_events",
    "billing_contacts",
    "channel_credentials",
)


async def _rows(db: asyncpg.Connection) -> dict[str, dict[int, asyncpg.Record]]:
    return {t: {r["id"]: r for r in await db.fetch(f"SELECT * FROM {t}")} for t in TABLES}


async def _subject(db: asyncpg.Connection) -> asyncpg.Record:
    row = await db.fetchrow(
        "SELECT id, first_name, last_name, email, phone FROM contacts "
        "WHERE EXISTS (SELECT 1 FROM files WHERE contact_id = contacts.id) ORDER BY id LIMIT 1"
    )
    assert row is not None
    return row


@pytest.mark.blob_stores
async def test_seed_then_erase_by_email_leaves_nothing_of_the_contact(
    client: PrivacyClient,
    db: asyncpg.Connection,
    db_url: str,
    blobs: BlobStore,
) -> None:
    summary = await seed_tenant(db, blobs, "demo", contacts=30, seed=7)
    assert summary.contacts == 30
    assert summary.files > 0
    jane = await _subject(db)
    name = f"{jane['first_name']} {jane['last_name']}"
    identifiers = [jane["email"], jane["phone"], name]
    dump = pg_dump(db_url)
    assert all(i in dump for i in identifiers)  # the check below can fail
    before = await _rows(db)
    audit_before = await db.fetch("SELECT * FROM privacy_audit_log ORDER BY seq")

    job = await client.erase("demo", subject(email=jane["email"].upper()))
    done = await client.wait_job(job.id)

    assert done.state == pb.JOB_STATE_SUCCEEDED, done.error_message
    dump = pg_dump(db_url)
    assert [i for i in identifiers if i.lower() in dump.lower()] == []
    blob_text = b"\n".join((await asyncio.to_thread(blob_view.stored, blobs)).values()).lower()
    assert await asyncio.to_thread(blob_view.leftovers, blobs) == []
    assert [i for i in identifiers if i.lower().encode() in blob_text] == []
    after = await _rows(db)
    assert jane["id"] not in after["contacts"]
    for table in TABLES:  # every row not about Jane is exactly as it was
        for row_id, row in before[table].items():
            if row_id in after[table] and row.get("contact_id") != jane["id"]:
                assert after[table][row_id] == row, (table, row_id)
    others = [i for i in before["contacts"] if i != jane["id"]]
    assert all(i in after["contacts"] for i in others)
    audit_after = await db.fetch("SELECT * FROM privacy_audit_log ORDER BY seq")
    assert audit_after[: len(audit_before)] == audit_before
    assert len(audit_after) > len(audit_before)


@pytest.mark.blob_stores
async def test_cli_seed_and_erase_wait_against_a_served_process(
    db: asyncpg.Connection, db_url: str, blob_dir: Path, blobs: BlobStore, tmp_path: Path
) -> None:
    # `blobs`: the processes inherit PRIVACY_BLOB_URL when it is a bucket.
    port = processes.free_port()
    env = processes.env(db_url, blob_dir, PRIVACY_GRPC_ADDR=f"127.0.0.1:{port}")
    code, out = await processes.run(
        ["seed", "--tenant", "demo", "--contacts", "5", "--seed", "3"], env
    )
    assert code == 0, out
    assert "seeded tenant 'demo': 5 contacts" in out
    assert "try: privacyctl erase" in out
    code, out = await processes.run(["seed", "--tenant", "demo", "--contacts", "5"], env)
    assert code == 1
    assert "exists already" in out
    seeded = await asyncio.to_thread(blob_view.stored, blobs)
    assert seeded  # `privacyctl seed` wrote its files to the configured store

    email = await db.fetchval("SELECT email FROM contacts ORDER BY id LIMIT 1")
    server = await processes.start(["serve"], env, tmp_path / "serve.log")
    try:
        await processes.wait_serving(port)
        code, out = await processes.run(
            ["erase", "--tenant", "demo", "--email", email, "--wait"], env
        )
        assert code == 0, out
        assert "accepted job" in out
        assert "succeeded" in out
        assert "messages" in out  # the progress bars name each data type

        code, out = await processes.run(["jobs", "--tenant", "demo", "--state", "succeeded"], env)
        job_id = await db.fetchval("SELECT id::text FROM privacy_jobs")
        assert code == 0, out
        assert job_id in out, out
        assert "succeeded" in out, out
        code, out = await processes.run(["watch", job_id], env)
        assert code == 0, out
        assert f"job {job_id} succeeded" in out, out

        zip_path = tmp_path / "demo.zip"
        code, out = await processes.run(
            ["export", "--tenant", "demo", "--whole-tenant", "demo", "--out", str(zip_path)], env
        )
        assert code == 0, out
        assert "exported to" in out, out
        with zipfile.ZipFile(zip_path) as archive:
            lines = archive.read("contacts.ndjson").decode().splitlines()
        kinds = [json.loads(line)["kind"] for line in lines]
        assert kinds == ["contacts"] * 4  # 5 seeded, 1 erased; notes and deals apart

        await _audit_verify_names_an_edited_entry(db, env)

        code, out = await processes.run(["erase", "--tenant", "demo", "--email", "nope"], env)
        assert code == 2
        assert "INVALID_ARGUMENT" in out
        assert "subject.email" in out
    finally:
        server.terminate()
        await server.wait()
    assert await db.fetchval("SELECT count(*) FROM contacts WHERE email = $1", email) == 0


async def _audit_verify_names_an_edited_entry(db: asyncpg.Connection, env: dict[str, str]) -> None:
    """`audit verify` finds demo's log intact, then names the entry a superuser changed."""
    code, out = await processes.run(["audit", "verify", "--tenant", "demo"], env)
    assert code == 0, out
    assert "audit log of 'demo': intact" in out, out
    async with db.transaction():  # a superuser edits history behind the guard
        await db.execute("SET LOCAL session_replication_role = replica")
        await db.execute("UPDATE privacy_audit_log SET actor = 'x' WHERE seq = 2")
    code, out = await processes.run(["audit", "verify", "--tenant", "demo"], env)
    assert code == 1, out
    assert "BROKEN at entry 2: its contents were changed" in out, out


async def test_cli_holds_account_deletion_and_retention_against_a_served_process(
    db: asyncpg.Connection, db_url: str, blob_dir: Path, tmp_path: Path
) -> None:
    port = processes.free_port()
    env = processes.env(db_url, blob_dir, PRIVACY_GRPC_ADDR=f"127.0.0.1:{port}")
    code, out = await processes.run(["seed", "--tenant", "demo", "--contacts", "3"], env)
    assert code == 0, out
    email = await db.fetchval("SELECT email FROM contacts ORDER BY id LIMIT 1")
    user_id = await db.fetchval("SELECT id FROM users ORDER BY id LIMIT 1")
    server = await processes.start(["serve"], env, tmp_path / "serve.log")
    try:
        await processes.wait_serving(port)
        code, out = await processes.run(
            ["hold", "set", "--tenant", "demo", "--email", email, "--reason", "case 17"], env
        )
        assert code == 0, out
        assert "active (case 17)" in out, out
        hold_id = out.split()[1]
        code, out = await processes.run(["erase", "--tenant", "demo", "--email", email], env)
        assert code == 0, out
        assert " held" in out, out
        code, out = await processes.run(["hold", "list", "--tenant", "demo"], env)
        assert code == 0, out
        assert hold_id in out, out
        code, out = await processes.run(["hold", "release", hold_id, "--reason", "closed"], env)
        assert code == 0, out
        assert "released" in out, out
        code, out = await processes.run(["hold", "release", hold_id], env)
        assert code == 2, out
        assert "FAILED_PRECONDITION" in out, out

        code, out = await processes.run(
            ["delete-account", "--tenant", "demo", "--user-id", str(user_id), "--undo"], env
        )
        assert code == 0, out
        assert "scheduled job" in out, out
        assert "undone: job" in out, out
        assert "cancelled" in out

        code, out = await processes.run(["retention", "show", "--tenant", "demo"], env)
        assert code == 0, out
        assert "13 months" in out, out
        assert "7 days" in out, out
        code, out = await processes.run(
            ["retention", "set", "--tenant", "demo", "--activity-months", "off"], env
        )
        assert code == 0, out
        assert "activity older than: off" in out, out
        assert "7 days" in out, out
        code, out = await processes.run(["retention", "run"], env)
        assert code == 0, out
        assert "retention run: 0 jobs submitted" in out, out
        code, out = await processes.run(
            ["retention", "set", "--tenant", "nope", "--activity-months", "3"], env
        )
        assert code == 1, out
        assert "no tenant" in out, out
    finally:
        server.terminate()
        await server.wait()
    assert await db.fetchval("SELECT count(*) FROM contacts WHERE email = $1", email) == 0
