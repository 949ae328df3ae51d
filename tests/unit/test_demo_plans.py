"""The demo planner's promise of reproducible plans, checked without a database."""

from __future__ import annotations

import dataclasses

from demo.identities import NameRegistry
from demo.planner import Planner
from demo.rows import Plan


def _plans(seed: int, contacts: int) -> list[Plan]:
    planner = Planner(seed, contacts=contacts, users=3, messages_per_contact=7)
    staff = planner.staff_plan()
    return [
        staff,
        planner.contacts_plan(0, contacts // 2),
        planner.contacts_plan(contacts // 2, contacts),
    ]


def _rows(plans: list[Plan]) -> list[object]:
    return [dataclasses.astuple(plan) for plan in plans]


def test_the_same_seed_plans_the_same_rows_and_another_seed_others() -> None:
    assert _rows(_plans(4, 40)) == _rows(_plans(4, 40))
    assert _rows(_plans(4, 40)) != _rows(_plans(5, 40))


def test_every_contact_has_its_records() -> None:
    staff, *chunks = _plans(2, 30)
    assert len(staff.users) == 3
    assert staff.users[0].is_owner
    contacts = sum(len(c.contacts) for c in chunks)
    messages = sum(len(c.messages) for c in chunks)
    assert contacts == 30
    assert messages == 30 * 7
    assert all(len({m.channel for m in c.messages}) == 5 for c in chunks)


def test_no_full_name_holds_another() -> None:
    names = NameRegistry()
    names.add("Jordan", "Leeds")
    assert names.clashes("Dan", "Lee")  # "Dan Lee" is in "Jordan Leeds"
    assert names.mentioned_in("Call Jordan Leeds today")
    assert not names.clashes("Ann", "Lee")
