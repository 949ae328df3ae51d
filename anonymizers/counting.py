"""The plan of a job: every data type's row count, in one round trip.

Each anonymizer says how to count its rows (`Anonymizer.count_query`); the
queries become the columns of one SELECT, their parameters numbered after one
another, so a submission counts all its data types in one statement instead of
one each.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from anonymizers.base import Anonymizer, Scope
from db.connection import Connection

_PARAMETER = re.compile(r"\$(\d+)")


def combined(queries: Sequence[tuple[str, tuple[object, ...]]]) -> tuple[str, list[object]]:
    """One SELECT whose i-th column is the i-th query's answer, and its arguments."""
    columns: list[str] = []
    arguments: list[object] = []
    for sql, args in queries:
        columns.append(f"({_shifted(sql, len(arguments)).strip().rstrip(';')})")
        arguments.extend(args)
    return "SELECT " + ", ".join(columns), arguments


def _shifted(sql: str, offset: int) -> str:
    """`sql` with its parameters $n renumbered $(n + offset)."""
    return _PARAMETER.sub(lambda m: f"${int(m.group(1)) + offset}", sql)


async def count_rows(
    conn: Connection, anonymizers: Sequence[Anonymizer], scope: Scope
) -> dict[str, int]:
    """Each data type's count of the scope's own rows."""
    if not anonymizers:
        return {}
    sql, arguments = combined([a.count_query(scope) for a in anonymizers])
    row = await conn.fetchrow(sql, *arguments)
    assert row is not None  # a SELECT without FROM answers one row
    return {a.data_type: int(row[i]) for i, a in enumerate(anonymizers)}
