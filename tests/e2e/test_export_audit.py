"""Every export that sends anything is in the audit log, whatever its end: started
before the first record leaves, then completed, or aborted saying how far it got
and why (the caller cancelled, or an error)."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import asyncpg
import grpc
import pytest

from clients.client import PrivacyClient, PrivacyClientError, subject
from clients.export_files import records_of
from server.app import App
from server.blobs import BlobStore
from server.config import Settings
from tests import factories
from tests.helpers import blob_view
from tests.helpers.waiting import eventually

# Every test here runs against the local store and the S3 one.
pytestmark = pytest.mark.blob_stores

# How long the server may take to write the entry of an export its caller left.
AUDITED_WITHIN = 30.0


async def _export_entries(db: asyncpg.Connection, *, ended: bool = True) -> list[dict[str, Any]]:
    """The export entries of the audit log, in order; with `ended`, waits (up to the
    deadline) until the last export has its end."""

    async def read() -> list[dict[str, Any]]:
        rows = await db.fetch(
            "SELECT action, actor, subject_hash, details FROM privacy_audit_log "
            "WHERE action LIKE 'export.%' ORDER BY seq"
        )
        return [{**dict(r), "details": json.loads(r["details"])} for r in rows]

    async def read_ended() -> list[dict[str, Any]] | None:
        entries = await read()
        return entries if entries and entries[-1]["action"] != "export.started" else None

    if not ended:
        return await read()
    return await eventually(read_ended, timeout=AUDITED_WITHIN, what="the export ending in the log")


async def _jane(db: asyncpg.Connection, blobs: BlobStore, messages: int) -> factories.Person:
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe", blobs=blobs, files=2)
    # Several blocks of records (about 1 MiB each), so the first message is not the last.
    await db.execute(
        "INSERT INTO messages (tenant_id, channel, contact_id, direction, sender, body) "
        "SELECT $1, 'email', $2, 'inbound', 'x@example.com', repeat('y', 2000) "
        "FROM generate_series(1, $3::int)",
        tenant,
        jane.id,
        messages,
    )
    return jane


async def test_a_completed_export_is_started_then_completed(
    client: PrivacyClient, db: asyncpg.Connection, blobs: BlobStore
) -> None:
    jane = await _jane(db, blobs, messages=3)
    chunks = [c async for c in client.export("acme", subject(email=jane.email))]
    manifest = chunks[-1].manifest
    started, completed = await _export_entries(db)
    assert [started["action"], completed["action"]] == ["export.started", "export.completed"]
    assert started["actor"] == completed["actor"] == "dev"
    assert started["subject_hash"] == completed["subject_hash"]
    assert started["subject_hash"]
    assert started["details"]["data_types"] == []  # all of them
    assert completed["details"]["records"] == dict(manifest.record_counts)
    assert completed["details"]["files"] == 2
    assert "jane" not in json.dumps([started, completed]).lower()


async def test_an_export_cancelled_after_its_first_message_is_started_then_aborted(
    client: PrivacyClient, db: asyncpg.Connection, blobs: BlobStore
) -> None:
    jane = await _jane(db, blobs, messages=3000)
    stream = client.export("acme", subject(email=jane.email), data_types=["messages", "files"])
    first = await anext(stream)
    assert records_of(first)  # records of Jane's left the server
    await stream.aclose()  # type: ignore[attr-defined]  # the caller goes away
    started, aborted = await _export_entries(db)
    assert [started["action"], aborted["action"]] == ["export.started", "export.aborted"]
    assert started["details"]["data_types"] == ["files", "messages"]
    assert started["subject_hash"] == aborted["subject_hash"]
    assert aborted["details"]["reason"] == "cancelled by the caller"
    # How far it got: at least what the caller read, never more than there is.
    sent = sum(aborted["details"]["records"].values())
    assert len(records_of(first)) <= sent < 3000 + 2
    assert aborted["details"]["files"] == 0  # files come after the records


class _StuckReads(blob_view.Wrapped):
    """Reads that wait until let go: an export busy reading a file, not waiting to
    send, when its caller leaves (its task is cancelled, not its stream closed)."""

    def __init__(self, inner: BlobStore) -> None:
        super().__init__(inner)
        self.reading = threading.Event()
        self.go = threading.Event()

    def get(self, tenant_id: str, key: str) -> bytes:
        self.reading.set()
        self.go.wait(AUDITED_WITHIN)
        return super().get(tenant_id, key)

    def read_range(self, tenant_id: str, key: str, start: int, length: int) -> bytes:
        self.reading.set()
        self.go.wait(AUDITED_WITHIN)
        return super().read_range(tenant_id, key, start, length)


async def test_an_export_cancelled_while_it_reads_a_file_is_started_then_aborted(
    db: asyncpg.Connection, settings: Settings, blobs: BlobStore
) -> None:
    blobs = _StuckReads(blobs)
    jane = await _jane(db, blobs, messages=1)
    async with App(settings, blobs=blobs) as app:
        try:
            async with PrivacyClient(f"127.0.0.1:{app.port}", token=app.dev_token) as client:
                stream = client.export("acme", subject(email=jane.email))
                assert records_of(await anext(stream))  # the records went out first
                assert await asyncio.to_thread(blobs.reading.wait, AUDITED_WITHIN)
                await stream.aclose()  # type: ignore[attr-defined]  # while it reads
                started, aborted = await _export_entries(db)
        finally:
            blobs.go.set()
    assert [started["action"], aborted["action"]] == ["export.started", "export.aborted"]
    assert aborted["details"]["reason"] == "cancelled by the caller"
    assert aborted["details"]["files"] == 0


async def test_an_export_ended_by_an_error_is_started_then_aborted(
    client: PrivacyClient, db: asyncpg.Connection, blobs: BlobStore
) -> None:
    jane = await _jane(db, blobs, messages=3)
    # A file row holding a key the store refuses: the export ends with DATA_LOSS
    # after its records went out.
    await db.execute(
        "UPDATE files SET blob_key = 'acme/../../elsewhere' WHERE id = (SELECT max(id) FROM files)"
    )
    with pytest.raises(PrivacyClientError) as raised:
        async for _ in client.export("acme", subject(email=jane.email)):
            pass
    assert raised.value.code is grpc.StatusCode.DATA_LOSS
    started, aborted = await _export_entries(db)
    assert [started["action"], aborted["action"]] == ["export.started", "export.aborted"]
    assert aborted["details"]["reason"] == "error: DataLoss"
    assert aborted["details"]["records"]["messages"] == 3
    assert aborted["details"]["files"] == 1  # the file before the refused one


async def test_a_refused_export_writes_nothing(
    client: PrivacyClient, db: asyncpg.Connection, blobs: BlobStore
) -> None:
    await _jane(db, blobs, messages=1)
    with pytest.raises(PrivacyClientError) as raised:
        async for _ in client.export("acme", subject(email="nobody@example.com")):
            pass
    assert raised.value.code is grpc.StatusCode.NOT_FOUND
    assert await _export_entries(db, ended=False) == []
