"""Write a batch's new values with one statement, whatever the batch's size."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from db.connection import Connection


def update_sql(table: str, columns: Sequence[tuple[str, str]]) -> str:
    """UPDATE `table` from a JSON array of {"id": …, column: value, …} objects.

    $1: the tenant; $2: the rows, as JSON. `columns` are (name, SQL type) pairs,
    names from code, never from input.
    """
    defs = ", ".join(f"{name} {kind}" for name, kind in (("id", "bigint"), *columns))
    sets = ", ".join(f"{name} = u.{name}" for name, _ in columns)
    return (
        f"UPDATE {table} t SET {sets} FROM json_to_recordset($2::json) AS u({defs}) "
        f"WHERE t.tenant_id = $1 AND t.id = u.id"
    )


async def update_rows(
    conn: Connection,
    table: str,
    tenant_id: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[Any]],
) -> None:
    """Set `columns` of each row (id, *values) in one round trip, one statement.

    One UPDATE per row (executemany) costs a statement per row; a batch's rows
    travel as one JSON array instead. jsonb values go nested, arrays as arrays.
    """
    if not rows:
        return
    names = ("id", *(name for name, _ in columns))
    payload = json.dumps([dict(zip(names, row, strict=True)) for row in rows])
    await conn.execute(update_sql(table, columns), tenant_id, payload)
