"""Files to index are queued by a trigger on every write of their contents, whoever
writes them; a job drains the queue instead of comparing every file with its tokens."""

from __future__ import annotations

import asyncpg

from tests import factories


async def _queued(db: asyncpg.Connection) -> list[int]:
    return [r["file_id"] for r in await db.fetch("SELECT file_id FROM privacy_files_to_index")]


async def test_new_and_changed_files_are_queued_renamed_and_gone_ones_not(
    db: asyncpg.Connection,
) -> None:
    tenant = await factories.tenant(db)
    # The CRM's own role: it may write files, and nothing of the service's.
    await db.execute(
        "DO $$ BEGIN CREATE ROLE crm_writer NOLOGIN; "
        "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
    )
    await db.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON files TO crm_writer")
    async with db.transaction():
        await db.execute("SELECT set_config('privacy.tenant_id', $1, true)", tenant)
        await db.execute("SET LOCAL ROLE crm_writer")
        file_id = await db.fetchval(
            "INSERT INTO files (tenant_id, name, content_type, size_bytes, sha256, blob_key) "
            "VALUES ($1, 'a.txt', 'text/plain', 1, 'x', 'k1') RETURNING id",
            tenant,
        )
    assert await _queued(db) == [file_id]
    await db.execute("DELETE FROM privacy_files_to_index")
    await db.execute("UPDATE files SET name = 'b.txt' WHERE id = $1", file_id)
    assert await _queued(db) == []  # a new name: the same contents
    await db.execute("UPDATE files SET sha256 = 'y' WHERE id = $1", file_id)
    assert await _queued(db) == [file_id]  # new contents: read again
    await db.execute("DELETE FROM files WHERE id = $1", file_id)
    assert await _queued(db) == []  # gone with the file
