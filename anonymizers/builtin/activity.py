"""Activity: usage events and the device data that comes with them."""

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
    Scope,
    TextColumns,
    Tools,
    counted_batch,
    load_queries,
    redact_batch,
    rendered,
)
from anonymizers.text.devices import generalize_user_agent, truncate_ip

_SQL = load_queries("anonymizers.builtin.sql", "activity.sql")
_PAGES = TextColumns("usage_events", text=("page",), indexed=True)


class ActivityAnonymizer:
    """Usage events: erase deletes them; anonymize keeps them, less identifying."""

    data_type = "activity"
    stage = 30  # before accounts: events reference users
    honours_period = True  # retention anonymizes the events older than a cutoff
    columns = (
        Column(
            "usage_events",
            "event",
            Category.TECHNICAL,
            Action.DELETE_ROW,
            Action.KEEP,
            "what feature was used: product analytics, names no one",
        ),
        Column("usage_events", "page", Category.FREE_TEXT, Action.DELETE_ROW, Action.REDACT),
        Column("usage_events", "ip", Category.IP_ADDRESS, Action.DELETE_ROW, Action.TRUNCATE),
        Column(
            "usage_events", "user_agent", Category.USER_AGENT, Action.DELETE_ROW, Action.TRUNCATE
        ),
        Column(
            "usage_events", "device_id", Category.DEVICE_ID, Action.DELETE_ROW, Action.PSEUDONYMIZE
        ),
    )

    async def identifiers(self, conn: Connection, scope: Scope) -> Identifiers:
        return Identifiers()  # device ids are pseudonymized, not searched for in text

    def count_query(self, scope: Scope) -> tuple[str, tuple[Any, ...]]:
        return _SQL["count"], scope.by_user_in_period()

    def parts(self, operation: Operation, scope: Scope) -> tuple[str, ...]:
        return ("usage_events",)

    async def redact_mentions(self, conn: Connection, batch: Batch, tools: Tools) -> BatchResult:
        # A page address can carry an email (/contacts?email=…).
        return await redact_batch(conn, _PAGES, batch, tools, rows="others")

    async def erase(self, conn: Connection, batch: Batch, tools: Tools) -> BatchResult:
        return await counted_batch(
            conn, _SQL["erase_batch"], batch.scope.by_user_in_period(), batch
        )

    async def anonymize(self, conn: Connection, batch: Batch, tools: Tools) -> BatchResult:
        rows = await conn.fetch(
            _SQL["lock_batch"], *batch.scope.by_user_in_period(), batch.after, batch.limit
        )
        await conn.execute(
            _SQL["anonymize_batch"],
            batch.scope.tenant_id,
            [r["id"] for r in rows],
            # The page is free text: the subject's own events lose their identifiers here
            # (for one person, the mentions step did the rest of the tenant).
            [
                tools.redactor.redact(r["page"], tools.replace, own=True) if r["page"] else None
                for r in rows
            ],
            [truncate_ip(r["ip"]) if r["ip"] else None for r in rows],
            [generalize_user_agent(r["user_agent"]) if r["user_agent"] else None for r in rows],
            [tools.fakes.token(r["device_id"], "device") if r["device_id"] else None for r in rows],
        )
        return BatchResult(
            processed=len(rows),
            checkpoint=rows[-1]["id"] if rows else batch.after,
            finished=len(rows) < batch.limit,
        )

    async def export(self, conn: Connection, scope: Scope) -> AsyncIterator[Rendered]:
        async for r in rendered(conn, "usage_events", _SQL["export"], *scope.by_user()):
            yield r
