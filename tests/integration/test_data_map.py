"""Every column that can hold personal data is owned by exactly one anonymizer."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import asyncpg

from anonymizers.base import Action
from anonymizers.datamap import render
from anonymizers.registry import default_registry

# Types that can carry personal data; ids, numbers, dates of records and flags cannot.
_TEXTUAL = ("text", "character varying", "jsonb", "json", "ARRAY", "inet", "bytea", "date")


async def test_every_textual_column_has_exactly_one_owner(db: asyncpg.Connection) -> None:
    rows = await db.fetch(
        """
        SELECT table_name, column_name FROM information_schema.columns
        WHERE table_schema = 'public' AND data_type = ANY($1::text[])
          AND table_name NOT LIKE 'privacy\\_%' AND table_name <> 'schema_migrations'
          AND column_name <> 'tenant_id'
        """,
        list(_TEXTUAL),
    )
    schema = {(r["table_name"], r["column_name"]) for r in rows}
    declared = Counter((c.table, c.column) for a in default_registry().ordered() for c in a.columns)
    assert sorted(schema - set(declared)) == [], "columns no anonymizer owns"
    assert sorted(set(declared) - schema) == [], "declared columns the schema lacks"
    assert [k for k, n in declared.items() if n > 1] == [], "columns with two owners"


def test_every_kept_column_says_why() -> None:
    for anonymizer in default_registry().ordered():
        for c in anonymizer.columns:
            if Action.KEEP in (c.erase, c.anonymize):
                assert c.reason, f"{c.table}.{c.column} is kept without a reason"


def test_the_docs_show_the_map_the_code_declares() -> None:
    docs = Path(__file__).parents[2] / "docs" / "data-map.md"
    assert docs.read_text() == render(default_registry()), (
        "docs/data-map.md is stale: run python -m anonymizers.datamap > docs/data-map.md"
    )
