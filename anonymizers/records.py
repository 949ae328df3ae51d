"""Rows as export records: JSON-ready dicts, or JSON rendered by PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from anonymizers.base import Connection

_JSON_COLUMNS = frozenset({"custom_fields"})
PREFETCH = 1000
# Internal fields that never leave the service, whatever an export query selects.
NEVER_EXPORTED = frozenset({"blob_key", "password_hash", "token_hash", "secret"})


@dataclass(frozen=True)
class Rendered:
    """Export records already rendered as JSON objects by the database, a batch at a
    time: per-row Python work is what an export's speed is made of."""

    jsons: list[str]


def _value(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _JSON_COLUMNS and isinstance(value, str):
        return json.loads(value)  # asyncpg returns jsonb as text
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)  # exact: money is not a float
    if isinstance(value, IPv4Address | IPv6Address | IPv4Network | IPv6Network):
        return str(value)
    if isinstance(value, list):
        return [_value(name, v) for v in value]
    return value


def record(kind: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """One export record: its kind (the table) and its fields."""
    return {"kind": kind, **{k: _value(k, v) for k, v in row.items()}}


async def records(
    conn: Connection, kind: str, sql: str, *args: Any
) -> AsyncIterator[dict[str, Any]]:
    """Stream a query's rows as export records through a server-side cursor.

    Must run inside a transaction (the export's snapshot). Rows come in batches of
    PREFETCH: memory stays bounded, round trips few.
    """
    async for row in conn.cursor(sql, *args, prefetch=PREFETCH):
        yield record(kind, row)


def _without_terminator(sql: str) -> str:
    """The statement without its final semicolon (and comments after it): a subquery."""
    body = sql.strip()
    end = body.rfind(";")
    rest = body[end + 1 :].splitlines() if end != -1 else ["x"]
    if all(not line.strip() or line.strip().startswith("--") for line in rest):
        body = body[:end]
    return body


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# A timestamp as Python's isoformat() writes it in UTC (what `records` exports):
# microseconds in full, or none when there are none; always "+00:00".
_ISO_UTC = (
    "CASE WHEN {0} IS NULL THEN NULL "
    "WHEN extract(microseconds FROM {0})::bigint % 1000000 = 0 "
    "THEN to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"') "
    "ELSE to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"') END"
)


def _field(name: str, type_name: str) -> str:
    """One column of the rendered record, as `records` would have written it."""
    column = f"q.{_ident(name)}"
    if type_name == "timestamptz":
        return f"{_ISO_UTC.format(column)} AS {_ident(name)}"
    if type_name == "numeric":  # exact: money is not a float
        return f"{column}::text AS {_ident(name)}"
    return column


async def rendered(conn: Connection, kind: str, sql: str, *args: Any) -> AsyncIterator[Rendered]:
    """Stream a query's rows as export records rendered to JSON by PostgreSQL, in
    batches of PREFETCH.

    What `records` yields, as JSON text made in the database (row_to_json), so
    Python only passes text through. The same JSON, value for value: timestamps
    as isoformat() in UTC, numeric as a decimal string, inet as its address,
    jsonb nested. NEVER_EXPORTED columns are left out. Must run inside a
    transaction, like `records`.
    """
    statement = await conn.prepare(sql)
    fields = ", ".join(
        _field(a.name, a.type.name)
        for a in statement.get_attributes()
        if a.name not in NEVER_EXPORTED
    )
    inner = _without_terminator(sql)
    wrapped = (
        f"SELECT row_to_json(r)::text FROM "
        f"(SELECT ${len(args) + 1}::text AS kind, {fields} FROM (\n{inner}\n) AS q) AS r"
    )
    cursor = await conn.cursor(wrapped, *args, kind)
    while batch := await cursor.fetch(PREFETCH):
        yield Rendered([row[0] for row in batch])
