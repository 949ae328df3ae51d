"""Rows as JSON-ready export records."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from anonymizers.base import Connection

_JSON_COLUMNS = frozenset({"custom_fields"})
PREFETCH = 1000


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
