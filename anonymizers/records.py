"""Rows as export records: JSON-ready dicts, or JSON rendered by PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any

from db.connection import Connection

_JSON_COLUMNS = frozenset({"custom_fields"})
_UNSAFE_PATH = re.compile(r"[^\w.\-]+")
PREFETCH = 1000
# Rendered records come in blocks of about this many bytes (gRPC's cost is per
# message too: larger blocks take both ends less CPU; docs/performance.md).
BLOCK_BYTES = 1024 * 1024
# COPY chunks read ahead of the records' reader.
_COPY_AHEAD = 16
# Internal fields that never leave the service, whatever an export query selects.
NEVER_EXPORTED = frozenset({"blob_key", "password_hash", "token_hash", "secret"})


@dataclass(frozen=True)
class Rendered:
    """Export records already rendered as JSON by the database, as NDJSON: `count`
    UTF-8 JSON objects, each ending in a newline (JSON text holds none of its own).
    Per-row Python work is what an export's speed is made of: these pass through.

    `kind`: the table they all come from (each record's `kind`), so an export can
    file each kind apart. `file_ids`: files among these records whose contents the
    export carries too (each record has the `path` they go to, `file_path`)."""

    ndjson: bytes
    count: int
    file_ids: tuple[int, ...] = ()
    kind: str = ""


def file_path(file_id: int, name: str | None) -> str:
    """Where a file goes in an export: files/<id>-<name>, with a name safe on any disk."""
    safe = _UNSAFE_PATH.sub("_", name or "file").strip("._") or "file"
    return f"files/{file_id}-{safe}"


def _value(name: str, value: Any) -> Any:
    if name in _JSON_COLUMNS and isinstance(value, str):
        return json.loads(value)  # asyncpg returns jsonb as text
    if isinstance(value, datetime):
        return _timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    # Decimal as text: exact, money is not a float.
    if isinstance(value, Decimal | IPv4Address | IPv6Address | IPv4Network | IPv6Network):
        return str(value)
    if isinstance(value, list):
        return [_value(name, v) for v in value]
    return value  # None, numbers, text and booleans as they are


def _timestamp(value: datetime) -> str:
    """A timestamp as PostgreSQL's JSON writes it in UTC (what `rendered` exports):
    ISO 8601, fractional seconds without trailing zeros (none when whole), "+00:00"."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    text = value.isoformat(timespec="seconds")[:19]  # years zero-padded, as the database's
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + ("+00:00" if value.tzinfo is not None else "")


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


def _field(name: str, type_name: str) -> str:
    """One column of the rendered record, as `records` would have written it
    (timestamps as row_to_json writes them: the transaction's TimeZone is UTC)."""
    column = f"q.{_ident(name)}"
    if type_name == "numeric":  # exact: money is not a float
        return f"{column}::text AS {_ident(name)}"
    return column


class CopyLines:
    """Whole lines of one text column out of COPY's text output, cut anywhere, in
    blocks of at least `block_bytes` (the last may be smaller).

    COPY's text format doubles every backslash; JSON text has no other character
    it escapes (no control characters, no tab), so that is all there is to undo."""

    def __init__(self, block_bytes: int) -> None:
        self._block_bytes = block_bytes
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, chunk: bytes) -> bytes | None:
        """Take the next chunk; a block of whole lines once there is enough."""
        self._parts.append(chunk)
        self._size += len(chunk)
        return self._block() if self._size >= self._block_bytes else None

    def end(self) -> bytes | None:
        """The lines left; ValueError if the output ended inside a line."""
        block = self._block()
        if self._size:
            raise ValueError("COPY output ended inside a row")
        return block

    def _block(self) -> bytes | None:
        data = b"".join(self._parts)
        end = data.rfind(b"\n") + 1  # whole rows only: an escape never splits
        rest = data[end:]
        self._parts, self._size = [rest], len(rest)
        if not end:
            return None
        return (data if end == len(data) else data[:end]).replace(b"\\\\", b"\\")


def _wrapped(statement_sql: str, attributes: Any, kind_arg: int, extra: str = "") -> str:
    """The query rendering each row of `statement_sql` as its export record's JSON."""
    fields = ", ".join(
        _field(a.name, a.type.name) for a in attributes if a.name not in NEVER_EXPORTED
    )
    return (
        f"SELECT row_to_json(r)::text{extra} FROM "
        f"(SELECT ${kind_arg}::text AS kind, {fields} FROM (\n{_without_terminator(statement_sql)}"
        f"\n) AS q) AS r"
    )


async def _in_utc(conn: Connection) -> None:
    """Timestamps rendered in UTC for the rest of the transaction, whatever the
    session's TimeZone: row_to_json writes them natively, in ISO 8601 (formatting
    them with to_char cost the database a fifth of its time rendering messages)."""
    await conn.execute("SET LOCAL TimeZone TO 'UTC'")


async def rendered_files(conn: Connection, sql: str, *args: Any) -> AsyncIterator[Rendered]:
    """`rendered` for file rows (`id` and `name` among their columns), whose contents
    the export carries: each record gets its `path` (`file_path`, made here: which
    characters a name keeps is Python's rule, not the database locale's)."""
    statement = await conn.prepare(sql)
    wrapped = _wrapped(sql, statement.get_attributes(), len(args) + 1, ", r.id, r.name")
    await _in_utc(conn)
    cursor = await conn.cursor(wrapped, *args, "files")
    while batch := await cursor.fetch(PREFETCH):
        # The record less its closing brace, then the path: one object, no parsing.
        # A path is letters, digits, "_", ".", "-" and "/": nothing JSON escapes.
        lines = [f'{row[0][:-1]},"path":"{file_path(row[1], row[2])}"}}' for row in batch]
        lines.append("")
        yield Rendered(
            "\n".join(lines).encode(), len(batch), tuple(row[1] for row in batch), kind="files"
        )


async def rendered(conn: Connection, kind: str, sql: str, *args: Any) -> AsyncIterator[Rendered]:
    """Stream a query's rows as export records rendered to JSON by PostgreSQL, in
    blocks of about BLOCK_BYTES.

    What `records` yields, as JSON text made in the database (row_to_json), so
    Python only passes bytes through. The same JSON, value for value: timestamps
    in UTC as row_to_json writes them (`_timestamp`), numeric as a decimal
    string, inet as its address, jsonb nested. NEVER_EXPORTED columns are left
    out. Must run inside a transaction, like `records` (whose TimeZone becomes UTC).

    The rows come by COPY, which the database sends without waiting to be asked
    (a cursor renders nothing between two fetches): it renders the next rows while
    the caller sends these, at most _COPY_AHEAD chunks ahead of it.
    """
    statement = await conn.prepare(sql)
    wrapped = _wrapped(sql, statement.get_attributes(), len(args) + 1)
    await _in_utc(conn)
    chunks: asyncio.Queue[bytes | BaseException] = asyncio.Queue(_COPY_AHEAD)

    async def copy() -> None:
        try:
            await conn.copy_from_query(wrapped, *args, kind, output=chunks.put)
        except Exception as exc:  # the reader raises it
            await chunks.put(exc)
        else:
            await chunks.put(b"")  # the end

    copying = asyncio.create_task(copy())
    try:
        lines = CopyLines(BLOCK_BYTES)
        while chunk := await chunks.get():
            if isinstance(chunk, BaseException):
                raise chunk
            if block := lines.feed(chunk):
                yield Rendered(block, block.count(b"\n"), kind=kind)
        if block := lines.end():
            yield Rendered(block, block.count(b"\n"), kind=kind)
    finally:
        if not copying.done():
            copying.cancel()  # the caller stopped reading: so does the COPY
        await asyncio.wait([copying])
