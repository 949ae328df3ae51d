"""Messages on every channel: email, SMS, WhatsApp, Telegram, live chat."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from anonymizers.api import (
    Action,
    Batch,
    BatchResult,
    Category,
    Column,
    Connection,
    Identifiers,
    Operation,
    Rendered,
    Rows,
    Scope,
    TextColumns,
    Tools,
    load_queries,
    redact_batch,
    rendered,
)
from anonymizers.text.identity import EMAIL as _EMAIL
from anonymizers.text.phones import CANDIDATE

_SQL = load_queries("anonymizers.builtin.sql", "messages.sql")

_TEXT = TextColumns(
    "messages",
    text=("sender", "subject", "body"),
    arrays=("recipients", "cc", "bcc"),
    owner="contact_id",
    indexed=True,
)


class MessagesAnonymizer:
    """A contact's communications, whatever the channel, and the subject in everyone's."""

    data_type = "messages"
    stage = 20  # after files (attachments reference messages), before contacts
    honours_period = False
    columns = (
        Column("messages", "sender", Category.HANDLE, Action.DELETE_ROW, Action.FAKE),
        Column("messages", "recipients", Category.HANDLE, Action.DELETE_ROW, Action.FAKE),
        Column("messages", "cc", Category.EMAIL, Action.DELETE_ROW, Action.FAKE),
        Column("messages", "bcc", Category.EMAIL, Action.DELETE_ROW, Action.FAKE),
        Column("messages", "subject", Category.FREE_TEXT, Action.DELETE_ROW, Action.REDACT),
        Column("messages", "body", Category.FREE_TEXT, Action.DELETE_ROW, Action.REDACT),
        Column(
            "messages",
            "channel",
            Category.TECHNICAL,
            Action.DELETE_ROW,
            Action.KEEP,
            "which channel: names no one",
        ),
        Column(
            "messages",
            "direction",
            Category.TECHNICAL,
            Action.DELETE_ROW,
            Action.KEEP,
            "inbound or outbound: names no one",
        ),
        Column(
            "messages",
            "thread_id",
            Category.TECHNICAL,
            Action.DELETE_ROW,
            Action.KEEP,
            "an opaque key that joins a conversation; names no one",
        ),
    )

    async def identifiers(self, conn: Connection, scope: Scope) -> Identifiers:
        # The addresses the subject wrote from or was written to: a second email or
        # number beyond the contact row, Telegram handles, live-chat visitor ids.
        rows = await conn.fetch(_SQL["addresses"], *scope.by_contact())
        by_channel: dict[str, list[str]] = {}
        for r in rows:
            if r["address"]:
                by_channel.setdefault(r["channel"], []).append(r["address"])
        emails = [e for a in by_channel.get("email", []) for e in _EMAIL.findall(a)]
        numbers = [
            m.group()
            for channel in ("sms", "whatsapp")
            for a in by_channel.get(channel, [])
            for m in CANDIDATE.finditer(a)
        ]
        handles = by_channel.get("telegram", []) + by_channel.get("livechat", [])
        return Identifiers(emails=tuple(emails), phones=tuple(numbers), handles=tuple(handles))

    def count_query(self, scope: Scope) -> tuple[str, tuple[Any, ...]]:
        return _SQL["count"], scope.by_contact()

    def parts(self, operation: Operation, scope: Scope) -> tuple[str, ...]:
        return ("messages",)

    async def redact_mentions(self, conn: Connection, batch: Batch, tools: Tools) -> BatchResult:
        # The subject's own messages are deleted by erase; the rest may cc or quote them.
        return await redact_batch(
            conn, _TEXT, batch, tools, rows="others", owners=batch.scope.contact_ids
        )

    async def erase(self, conn: Connection, batch: Batch, tools: Tools) -> BatchResult:
        row = await conn.fetchrow(
            _SQL["erase_batch"], *batch.scope.by_contact(), batch.after, batch.limit
        )
        assert row is not None  # an aggregate always returns one row
        processed = int(row["processed"])
        return BatchResult(
            processed=processed,
            checkpoint=int(row["checkpoint"]),
            finished=processed < batch.limit,
        )

    async def anonymize(self, conn: Connection, batch: Batch, tools: Tools) -> BatchResult:
        # Every address, handle and mention of the subject becomes its consistent fake.
        rows: Rows = "all" if batch.scope.whole_tenant else "owned"
        return await redact_batch(
            conn, _TEXT, batch, tools, rows=rows, owners=batch.scope.contact_ids
        )

    async def export(self, conn: Connection, scope: Scope) -> AsyncIterator[Rendered]:
        async for r in rendered(conn, "messages", _SQL["export"], *scope.by_contact()):
            yield r
