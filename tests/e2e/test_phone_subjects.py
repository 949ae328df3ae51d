"""A phone number names one person everywhere it is accepted: Erase (and its dry run),
legal holds and Export read it as E.164 in the tenant's region, never by its digits.

A Maine and a London number share their last ten digits; each request by either
reaches that one contact only.
"""

from __future__ import annotations

import json

import asyncpg
import pytest

from clients.client import PrivacyClient, subject
from clients.export_files import records_of
from tests import factories

MAINE = ("+1 207 946 0958", "(207) 946-0958")  # stored, and as a US caller writes it
LONDON = ("+44 20 7946 0958", "+44 (0)20 7946 0958")


@pytest.fixture
async def two(db: asyncpg.Connection) -> dict[str, int]:
    await factories.tenant(db, "acme")
    maine = await factories.contact(db, "acme", "Ada", "Maine", phone=MAINE[0], messages=1)
    london = await factories.contact(db, "acme", "Bea", "London", phone=LONDON[0], messages=1)
    return {"maine": maine.id, "london": london.id}


@pytest.mark.parametrize(("who", "written"), [("maine", MAINE[1]), ("london", LONDON[1])])
async def test_dry_run_hold_and_export_by_phone_reach_one_contact(
    client: PrivacyClient, db: asyncpg.Connection, two: dict[str, int], who: str, written: str
) -> None:
    dry = await client.erase("acme", subject(phone=written), dry_run=True)
    planned = {p.data_type: p.planned for p in dry.progress}
    assert planned["contacts"] == 1

    hold = await client.set_legal_hold("acme", subject(phone=written), "case 1")
    held = await db.fetchval(
        "SELECT contact_ids FROM privacy_legal_holds WHERE id = $1::uuid", hold.id
    )
    assert held == [two[who]]

    exported = [
        json.loads(r.json)
        async for chunk in client.export("acme", subject(phone=written))
        for r in records_of(chunk)
        if r.data_type == "contacts"
    ]
    assert [c["id"] for c in exported] == [two[who]]
