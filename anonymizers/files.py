"""Files: metadata rows here, contents in the blob store."""

from __future__ import annotations

from anonymizers.base import Action, Batch, BatchResult, Category, Column, Connection, Scope
from anonymizers.queries import load_queries

_SQL = load_queries("anonymizers.sql", "files.sql")


class FilesAnonymizer:
    """A contact's files and the attachments of its messages."""

    data_type = "files"
    stage = 10  # first: file rows reference messages and contacts
    columns = (
        Column("files", "name", Category.FILE_NAME, Action.DELETE_ROW, Action.FAKE),
        Column(
            "files",
            "blob_key",
            Category.FILE_REFERENCE,
            Action.DELETE_ROW,
            Action.KEEP,
            "opaque random key; the blob's contents are rewritten instead",
        ),
        Column(
            "files",
            "content_type",
            Category.BUSINESS,
            Action.DELETE_ROW,
            Action.KEEP,
            "a format, names no one",
        ),
        Column("files", "sha256", Category.BUSINESS, Action.DELETE_ROW, Action.FAKE),
    )

    async def count(self, conn: Connection, scope: Scope) -> int:
        return int(await conn.fetchval(_SQL["count"], scope.tenant_id, list(scope.contact_ids)))

    async def erase(self, conn: Connection, batch: Batch) -> BatchResult:
        rows = await conn.fetch(
            _SQL["erase_batch"],
            batch.scope.tenant_id,
            list(batch.scope.contact_ids),
            batch.after,
            batch.limit,
        )
        if not rows:
            return BatchResult(processed=0, checkpoint=batch.after, finished=True)
        return BatchResult(
            processed=len(rows),
            # DELETE … RETURNING gives no order: the checkpoint is the highest id.
            checkpoint=max(r["id"] for r in rows),
            finished=len(rows) < batch.limit,
            blob_keys=tuple(r["blob_key"] for r in rows),
        )
