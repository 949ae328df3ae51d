"""Export over real gRPC and PostgreSQL: complete, consistent, secret-free, cancellable."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import asyncpg
import grpc
import jsonschema
import pytest

from anonymizers.records import BLOCK_BYTES
from atomicrm.privacy.v1 import privacy_pb2 as pb
from atomicrm.privacy.v1 import privacy_pb2_grpc
from clients.client import PrivacyClient, PrivacyClientError, open_channel, subject
from clients.export_files import files_done_of, records_of, write_ndjson, write_zip
from demo.seeding import seed_tenant
from server.app import App
from server.blobs import BlobStore
from tests.helpers.waiting import eventually

# Every test here runs against the local store and the S3 one.
pytestmark = pytest.mark.blob_stores

SCHEMA = json.loads(
    (Path(__file__).parents[2] / "docs" / "export-manifest.schema.json").read_text()
)


async def _seeded(db: asyncpg.Connection, blobs: BlobStore) -> asyncpg.Record:
    await seed_tenant(db, blobs, "demo", contacts=20, seed=5)
    # Someone with files, and if there is one, an attachment to a message too.
    row = await db.fetchrow(
        "SELECT c.id, c.email FROM contacts c JOIN files f ON f.contact_id = c.id "
        "GROUP BY c.id, c.email ORDER BY bool_or(f.message_id IS NOT NULL) DESC, c.id LIMIT 1"
    )
    assert row is not None
    return row


async def test_a_contacts_zip_holds_exactly_their_records_and_files(
    client: PrivacyClient, db: asyncpg.Connection, blobs: BlobStore, tmp_path: Path
) -> None:
    jane = await _seeded(db, blobs)
    out = tmp_path / "jane.zip"
    manifest = await write_zip(client.export("demo", subject(email=jane["email"])), out)
    jsonschema.validate(manifest, SCHEMA)

    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        stored = json.loads(archive.read("manifest.json"))
        records = {
            r["path"]: [json.loads(line) for line in archive.read(r["path"]).decode().splitlines()]
            for r in manifest["records"]
        }
        contents = {f["path"]: archive.read(f["path"]) for f in manifest["files"]}
        raw = b"".join(archive.read(n) for n in names)
    assert stored == manifest
    # One file per kind, holding that kind alone: notes and deals beside contacts.
    for entry in manifest["records"]:
        assert [r["kind"] for r in records[entry["path"]]] == [entry["kind"]] * entry["count"]
        assert entry["path"] == f"{entry['kind']}.ndjson"
    by_type: dict[str, int] = {}
    for entry in manifest["records"]:
        by_type[entry["data_type"]] = by_type.get(entry["data_type"], 0) + entry["count"]
    assert by_type == {t: n for t, n in manifest["record_counts"].items() if n}
    assert names == {
        "index.html",
        "manifest.json",
        *records,
        *(f["path"] for f in manifest["files"]),
    }

    # What the data map says is Jane's, asked of the database directly.
    expected = {
        "contacts": {jane["id"]},
        "notes": {
            r["id"]
            for r in await db.fetch("SELECT id FROM notes WHERE contact_id = $1", jane["id"])
        },
        "deals": {
            r["id"]
            for r in await db.fetch("SELECT id FROM deals WHERE contact_id = $1", jane["id"])
        },
        "messages": {
            r["id"]
            for r in await db.fetch("SELECT id FROM messages WHERE contact_id = $1", jane["id"])
        },
        "files": {
            r["id"]
            for r in await db.fetch(
                "SELECT id FROM files WHERE contact_id = $1 OR message_id IN "
                "(SELECT id FROM messages WHERE contact_id = $1)",
                jane["id"],
            )
        },
    }
    got: dict[str, set[int]] = {}
    for recs in records.values():
        for r in recs:
            got.setdefault(r["kind"], set()).add(r["id"])
    assert {k: v for k, v in got.items() if v} == {k: v for k, v in expected.items() if v}

    # Files round-trip: the bytes in the zip are the blobs, with the manifest's hashes.
    db_files = {
        str(r["id"]): r
        for r in await db.fetch(
            "SELECT id, sha256, blob_key FROM files WHERE id = ANY($1)", list(expected["files"])
        )
    }
    assert {f["file_id"] for f in manifest["files"]} == set(db_files)
    for f in manifest["files"]:
        data = contents[f["path"]]
        assert hashlib.sha256(data).hexdigest() == f["sha256"] == db_files[f["file_id"]]["sha256"]
        assert len(data) == f["size_bytes"]
        assert data == blobs.get("demo", db_files[f["file_id"]]["blob_key"])

    # Never exported: secrets and internal keys, by name or by value.
    secrets = [r["secret"] for r in await db.fetch("SELECT secret FROM channel_credentials")]
    secrets += [r["token_hash"] for r in await db.fetch("SELECT token_hash FROM sessions")]
    secrets += [r["password_hash"] for r in await db.fetch("SELECT password_hash FROM users")]
    assert [s for s in secrets if s and s.encode() in raw] == []
    for field in (b'"blob_key"', b'"password_hash"', b'"token_hash"', b'"secret"'):
        assert field not in raw

    audit = await db.fetchrow(
        "SELECT subject_hash, details FROM privacy_audit_log WHERE action = 'export.completed'"
    )
    assert audit is not None
    assert len(audit["subject_hash"]) == 64
    assert json.loads(audit["details"])["records"] == manifest["record_counts"]


async def test_export_is_one_snapshot_while_others_write(
    client: PrivacyClient, db: asyncpg.Connection, blobs: BlobStore
) -> None:
    jane = await _seeded(db, blobs)
    # Enough messages that the export is still reading when the first chunk arrives:
    # several blocks of records (about 1,000 bytes each).
    await db.execute(
        "INSERT INTO messages (tenant_id, channel, contact_id, direction, sender, body) "
        "SELECT 'demo', 'sms', $1, 'inbound', '+15550000000', 'old ' || g || repeat('.', 800) "
        "FROM generate_series(1, $2::int) g",
        jane["id"],
        4 * BLOCK_BYTES // 1000,
    )
    ids = [
        r["id"]
        for r in await db.fetch(
            "SELECT id FROM messages WHERE contact_id = $1 ORDER BY id", jane["id"]
        )
    ]
    stream = client.export("demo", subject(email=jane["email"]), data_types=["messages"])
    first = await anext(stream)  # read and sent: the snapshot is taken, more is to come
    assert len(records_of(first)) < len(ids)
    # Meanwhile another task deletes rows not exported yet, and adds new ones.
    await db.execute("DELETE FROM messages WHERE id = ANY($1)", ids[-500:])
    await db.execute(
        "INSERT INTO messages (tenant_id, channel, contact_id, direction, sender, body) "
        "VALUES ('demo', 'sms', $1, 'inbound', '+15550000000', 'later')",
        jane["id"],
    )
    rest = [c async for c in stream]
    records = [json.loads(r.json) for c in [first, *rest] for r in records_of(c)]
    assert [r["id"] for r in records] == ids  # exactly the rows of the snapshot
    assert rest[-1].manifest.record_counts["messages"] == len(ids)


async def test_ndjson_lines_and_the_erased_subject(
    client: PrivacyClient, db: asyncpg.Connection, blobs: BlobStore, tmp_path: Path
) -> None:
    jane = await _seeded(db, blobs)
    out = tmp_path / "jane.ndjson"
    with out.open("w") as f:
        manifest = await write_ndjson(client.export("demo", subject(contact_id=jane["id"])), f)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert manifest is not None
    assert lines[-1] == {"manifest": manifest}
    assert all(set(line) == {"data_type", "record"} for line in lines[:-1])
    assert len(lines) - 1 == sum(manifest["record_counts"].values())

    job = await client.erase("demo", subject(contact_id=jane["id"]))
    assert (await client.wait_job(job.id)).state == pb.JOB_STATE_SUCCEEDED
    with pytest.raises(PrivacyClientError) as raised:
        async for _ in client.export("demo", subject(contact_id=jane["id"])):
            pass
    assert raised.value.code is grpc.StatusCode.NOT_FOUND  # as docs/export.md says


async def test_bad_export_requests_write_nothing(
    app: App, client: PrivacyClient, db: asyncpg.Connection, blobs: BlobStore
) -> None:
    jane = await _seeded(db, blobs)
    before = await db.fetchval("SELECT count(*) FROM privacy_audit_log")
    async with open_channel(f"127.0.0.1:{app.port}", token=app.dev_token) as channel:
        stub = privacy_pb2_grpc.PrivacyServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            async for _ in stub.Export(
                pb.ExportRequest(
                    tenant_id="demo",
                    subject=pb.Subject(email=jane["email"]),
                    format=pb.ExportFormat.ValueType(7),  # no such format
                )
            ):
                pass
        assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert "format" in (raised.value.details() or "")
    for tenant, who, code in [
        ("nope", subject(email=jane["email"]), grpc.StatusCode.NOT_FOUND),
        ("demo", subject(email="nobody@example.com"), grpc.StatusCode.NOT_FOUND),
        ("", subject(email=jane["email"]), grpc.StatusCode.INVALID_ARGUMENT),
    ]:
        with pytest.raises(PrivacyClientError) as err:
            async for _ in client.export(tenant, who):
                pass
        assert err.value.code is code
    assert await db.fetchval("SELECT count(*) FROM privacy_audit_log") == before


async def test_a_cancelled_export_leaves_no_open_transaction(
    client: PrivacyClient, db: asyncpg.Connection, db_url: str, blobs: BlobStore
) -> None:
    jane = await _seeded(db, blobs)
    await db.execute(
        "INSERT INTO messages (tenant_id, channel, contact_id, direction, sender, body) "
        "SELECT 'demo', 'email', $1, 'inbound', 'x@example.com', repeat('y', 2000) "
        "FROM generate_series(1, 3000)",
        jane["id"],
    )
    stream = client.export("demo", subject(email=jane["email"]))
    async for _ in stream:
        break  # the caller goes away after one record
    await stream.aclose()  # type: ignore[attr-defined]  # an async generator
    name = db_url.rsplit("/", 1)[-1].split("?")[0]

    async def open_and_active() -> tuple[int, int]:
        open_: int = await db.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 "
            "AND state LIKE 'idle in transaction%'",
            name,
        )
        active: int = await db.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND state = 'active' "
            "AND pid <> pg_backend_pid() AND query LIKE '%FROM messages%'",
            name,
        )
        return open_, active

    async def all_closed() -> bool:
        return await open_and_active() == (0, 0)

    await eventually(all_closed, timeout=10, what="no transaction of the export left")
    assert await open_and_active() == (0, 0)
    assert (
        await db.fetchval(
            "SELECT count(*) FROM privacy_audit_log WHERE action = 'export.completed'"
        )
        == 0
    )


async def test_a_user_account_and_a_whole_tenant(
    client: PrivacyClient, db: asyncpg.Connection, blobs: BlobStore
) -> None:
    await _seeded(db, blobs)
    user = await db.fetchrow("SELECT id, email FROM users ORDER BY id LIMIT 1")
    assert user is not None
    chunks = [c async for c in client.export("demo", subject(email=user["email"]))]
    records = [json.loads(r.json) for c in chunks for r in records_of(c)]
    kinds = {r["kind"] for r in records}
    assert {"users", "sessions", "usage_events"} <= kinds
    users = [r for r in records if r["kind"] == "users"]
    assert [u["id"] for u in users] == [user["id"]]
    assert "password_hash" not in users[0]

    whole = [c async for c in client.export("demo", subject(whole_tenant="demo"))]
    counts = whole[-1].manifest.record_counts
    # No message grows with the tenant: file entries come with the files, not in the
    # manifest; small files share messages.
    assert list(whole[-1].manifest.files) == []
    done = [entry for c in whole for entry in files_done_of(c)]
    file_count = await db.fetchval("SELECT count(*) FROM files WHERE tenant_id = 'demo'")
    assert len(done) == len({d.file_id for d in done}) == file_count
    assert sum(c.WhichOneof("payload") == "files" for c in whole) < file_count
    assert max(c.ByteSize() for c in whole) < 2 * BLOCK_BYTES
    for data_type, tables in {
        "contacts": ("contacts", "notes", "deals"),
        "messages": ("messages",),
        "files": ("files",),
        "activity": ("usage_events",),
        "accounts": ("users", "billing_contacts", "sessions"),
    }.items():
        total = 0
        for table in tables:
            total += await db.fetchval(f"SELECT count(*) FROM {table} WHERE tenant_id = 'demo'")
        assert counts[data_type] == total, data_type
