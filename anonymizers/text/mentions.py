"""Replace a subject's identifiers in the free text of any row of a table.

Shared by the anonymizers: each declares its free-text columns as a TextColumns
and calls redact_batch. The SQL is built from those declarations (names from
code, never from input); values are always bound parameters.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, Literal

from anonymizers.base import Batch, BatchResult, Tools
from anonymizers.text import tokens
from db.bulk import update_rows
from db.connection import Connection

# Which rows a redaction looks at: the subject's own, everyone else's, or all.
Rows = Literal["owned", "others", "all"]
# Rows redacted while the database writes the part before them (redact_batch).
PIPELINE_ROWS = 250


@dataclass(frozen=True)
class TextColumns:
    """The free-text columns of one table, by how they are stored."""

    table: str
    text: tuple[str, ...] = ()
    arrays: tuple[str, ...] = ()  # text[]: each element on its own
    json: tuple[str, ...] = ()  # jsonb: every string value (not the keys)
    # When erasing, rows the subject owns (by this column) are deleted anyway: skip them.
    owner: str | None = None
    # The table's texts are in the mention index (privacy_text_tokens, computed
    # with tokens_sql(): privacy_row_tokens(), migration 0017), which
    # privacy_mention_hits() reads.
    indexed: bool = False

    def _all(self) -> tuple[str, ...]:
        return self.text + self.arrays + self.json

    def tokens_sql(self) -> str:
        """The expression the mention index computes a row's tokens with, exactly as
        privacy_row_tokens() writes it."""
        parts = [f"ARRAY[{', '.join(self.text)}]::text[]"] if self.text else []
        parts += list(self.arrays)
        parts += [f"privacy_json_strings({c})" for c in self.json]
        return f"privacy_mention_tokens({' || '.join(parts)})"

    def _owned(self) -> str:
        # $4: the subject's own row ids (by `owner`); a table without owners has none.
        if self.owner:
            return f"coalesce({self.owner} = ANY($4), false)"
        return "($4::bigint[] IS NULL)"

    def _rows(self, rows: Rows) -> str:
        if rows == "others":
            return f"AND NOT {self._owned()} "
        if rows == "all":
            return ""
        if not self.owner:
            return "AND false "
        # By the owner's index first: a subject's rows are few, the table's many.
        return (
            f"AND id = ANY(ARRAY(SELECT id FROM {self.table} WHERE tenant_id = $1 "
            f"AND {self.owner} = ANY($4) AND id > $2)) "
        )

    def select_sql(self, rows: Rows) -> str:
        """The next rows to look at ($1 tenant, $2 after, $3 limit, $4 the subject's
        own row ids): the subject's ('owned'), everyone else's ('others') or every
        row ('all'); and whether each is the subject's own."""
        return (
            f"SELECT id, {self._owned()} AS own, {', '.join(self._all())} FROM {self.table} "
            f"WHERE tenant_id = $1 AND id > $2 {self._rows(rows)}"
            f"ORDER BY id LIMIT $3 FOR UPDATE"
        )

    def indexed_select_sql(self) -> str:
        """select_sql("others") over the rows the mention index finds for $5 (tsqueries
        over keyed lexemes), $6 the tenant's key.

        The lookup (privacy_mention_hits(), which uses the index even under row-level
        security) runs first, once, and the rows are then read by primary key, so the
        planner never walks the tenant's rows to join them with its answer; the
        redactor stays the exact filter."""
        return (
            f"SELECT id, {self._owned()} AS own, {', '.join(self._all())} FROM {self.table} "
            f"WHERE tenant_id = $1 AND id > $2 AND id = ANY(ARRAY("
            f"SELECT privacy_mention_hits('{self.table}', $1, $2, $5::tsquery[], $6))) "
            f"{self._rows('others')}"
            f"ORDER BY id LIMIT $3 FOR UPDATE"
        )

    def sql_types(self) -> tuple[tuple[str, str], ...]:
        """(column, SQL type) of every column, for db.bulk."""
        return (
            *((c, "text") for c in self.text),
            *((c, "text[]") for c in self.arrays),
            *((c, "jsonb") for c in self.json),
        )


def _redact_value(value: Any, tools: Tools, own: bool) -> Any:
    """Redact a string, or every string inside a list or a JSON value."""
    if isinstance(value, str):
        return tools.redactor.redact(value, tools.replace, own=own)
    if isinstance(value, list):
        return [_redact_value(v, tools, own) for v in value]
    if isinstance(value, dict):
        return {k: _redact_value(v, tools, own) for k, v in value.items()}
    return value


async def redact_batch(
    conn: Connection,
    columns: TextColumns,
    batch: Batch,
    tools: Tools,
    *,
    rows: Rows = "all",
    owners: tuple[int, ...] = (),
) -> BatchResult:
    """Redact the next batch of rows ('others', 'owned' by `owners`, or 'all').

    Others' rows are looked up in the mention index where the table has one (the
    rows that can name the subject); the redactor decides, row by row, with the
    subject's own rows (where a given name alone counts) told apart."""
    lookup = None
    if rows == "others" and columns.indexed:
        lookup = tools.redactor.sql_tsqueries()
    args = (batch.scope.tenant_id, batch.after, batch.limit, list(owners))
    if lookup is not None:
        key = tools.tenant_key
        found = await conn.fetch(
            columns.indexed_select_sql(), *args, tokens.keyed(key, lookup), key
        )
    else:
        found = await conn.fetch(columns.select_sql(rows), *args)
    changed = await _rewrite(
        conn, columns, batch.scope.tenant_id, found, tools, whole=batch.scope.whole_tenant
    )
    return BatchResult(
        # Own rows count as done when looked at; others when they changed.
        processed=len(found) if rows == "owned" else changed,
        checkpoint=found[-1]["id"] if found else batch.after,
        finished=len(found) < batch.limit,
    )


async def _rewrite(
    conn: Connection,
    columns: TextColumns,
    tenant_id: str,
    found: list[Any],
    tools: Tools,
    *,
    whole: bool,
) -> int:
    """Write the rows of `found` that redaction changes; return how many.

    A part at a time, each written (one statement, jsonb values nested) while the
    next part is redacted: the database's work and Python's overlap instead of
    following each other."""
    changed = 0
    writing: asyncio.Task[None] | None = None
    try:
        for start in range(0, len(found), PIPELINE_ROWS):
            updates = []
            for row in found[start : start + PIPELINE_ROWS]:
                old = [row[c] for c in columns.text + columns.arrays]
                old += [json.loads(row[c]) if row[c] is not None else None for c in columns.json]
                own = whole or bool(row["own"])  # a whole tenant: every row is someone's own
                new = [_redact_value(v, tools, own) for v in old]
                if new != old:
                    updates.append((row["id"], *new))
            if writing is not None:
                await writing
                writing = None
            if updates:
                changed += len(updates)
                writing = asyncio.create_task(
                    update_rows(conn, columns.table, tenant_id, columns.sql_types(), updates)
                )
                await asyncio.sleep(0)  # the statement goes out before the next part
        if writing is not None:
            await writing
    finally:
        if writing is not None:
            # Leaving on an error: the statement in flight ends before the
            # transaction that holds it is rolled back (its own error, if any,
            # is not left unretrieved).
            await asyncio.wait([writing])
            if not writing.cancelled():
                writing.exception()
    return changed
