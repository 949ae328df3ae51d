"""Messages on every channel: email, SMS, WhatsApp, Telegram, live chat."""

from __future__ import annotations

from anonymizers.base import Action, Batch, BatchResult, Category, Column, Connection, Scope
from anonymizers.queries import load_queries

_SQL = load_queries("anonymizers.sql", "messages.sql")


class MessagesAnonymizer:
    """A contact's communications, whatever the channel."""

    data_type = "messages"
    stage = 20  # after files (attachments reference messages), before contacts
    columns = (
        Column("messages", "sender", Category.HANDLE, Action.DELETE_ROW, Action.FAKE),
        Column("messages", "recipients", Category.HANDLE, Action.DELETE_ROW, Action.FAKE),
        Column("messages", "cc", Category.EMAIL, Action.DELETE_ROW, Action.FAKE),
        Column("messages", "bcc", Category.EMAIL, Action.DELETE_ROW, Action.FAKE),
        Column("messages", "subject", Category.FREE_TEXT, Action.DELETE_ROW, Action.REDACT),
        Column("messages", "body", Category.FREE_TEXT, Action.DELETE_ROW, Action.REDACT),
        Column(
            "messages",
            "thread_id",
            Category.BUSINESS,
            Action.DELETE_ROW,
            Action.KEEP,
            "opaque thread key; joins the conversation, names no one",
        ),
    )

    async def count(self, conn: Connection, scope: Scope) -> int:
        return int(await conn.fetchval(_SQL["count"], scope.tenant_id, list(scope.contact_ids)))

    async def erase(self, conn: Connection, batch: Batch) -> BatchResult:
        row = await conn.fetchrow(
            _SQL["erase_batch"],
            batch.scope.tenant_id,
            list(batch.scope.contact_ids),
            batch.after,
            batch.limit,
        )
        assert row is not None  # an aggregate always returns one row
        processed = int(row["processed"])
        return BatchResult(
            processed=processed,
            checkpoint=int(row["checkpoint"]),
            finished=processed < batch.limit,
        )
