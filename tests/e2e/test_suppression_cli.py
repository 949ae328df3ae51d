"""`privacyctl suppression check|add|remove|list` and `erase --skip-suppression`, run
as real processes against a served App (docs/suppression.md)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest

from server.app import App
from server.config import Settings
from tests import factories
from tests.helpers import processes

HASH_ROW = re.compile(r"^[0-9a-f]{64}\s+(email|phone)\s+\S+\s+\S+\s+(\S+)\s+(\S+)$")


@pytest.fixture
async def accepting(settings: Settings) -> AsyncIterator[App]:
    """A server that accepts jobs and runs none: what an Erase does on acceptance alone."""
    async with App(replace(settings, workers=0)) as app:
        yield app


def _lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.strip()]


async def test_an_accepted_erase_suppresses_its_subject_and_check_says_so(
    accepting: App, db: asyncpg.Connection, db_url: str, blob_dir: Path
) -> None:
    tenant = await factories.tenant(db)
    ana = await factories.contact(db, tenant, "Ana", "Lima", phone="+1 (555) 010-2030")
    ben = await factories.contact(db, tenant, "Ben", "Okafor", phone="+1 (555) 010-4040")
    env = processes.env(db_url, blob_dir, PRIVACY_TOKEN=accepting.dev_token or "")
    target = ["--target", f"127.0.0.1:{accepting.port}", "--tenant", tenant]
    check = ["suppression", "check", *target]

    code, out = await processes.run(
        [*check, "--email", ana.email, "--phone", "555 010 2030", "--email", "no email"], env
    )
    assert code == 0, out
    assert _lines(out) == [
        f"email {ana.email}: not suppressed",
        "phone 555 010 2030: not suppressed",
        "email no email: invalid",
    ]

    code, out = await processes.run(["erase", *target, "--email", ana.email], env)
    assert code == 0, out
    job_id = re.search(r"job (\S+)", out)
    assert job_id, out
    code, out = await processes.run(
        ["erase", *target, "--email", ben.email, "--skip-suppression"], env
    )
    assert code == 0, out

    # Suppressed from acceptance (no worker ran), in any case and phone format.
    asked = ["--email", ana.email.upper(), "--phone", "555 010 2030"]
    asked += ["--email", ben.email, "--phone", "+15550104040"]
    code, out = await processes.run([*check, *asked], env)
    assert code == 0, out
    assert _lines(out) == [
        f"email {ana.email.upper()}: suppressed",
        "phone 555 010 2030: suppressed",
        f"email {ben.email}: not suppressed",
        "phone +15550104040: not suppressed",
    ]

    code, out = await processes.run(["suppression", "list", *target], env)
    assert code == 0, out
    rows = [HASH_ROW.match(line) for line in _lines(out)[1:-1]]
    assert all(rows), out
    assert sorted(m.group(1) for m in rows if m) == ["email", "phone"]
    assert {m.group(2) for m in rows if m} == {job_id.group(1)}  # whole ids, never cut
    assert _lines(out)[-1] == "2 entries"
    # Keyed hashes only: the identifiers are nowhere in the table.
    stored = await db.fetch("SELECT * FROM privacy_suppressions WHERE tenant_id = $1", tenant)
    text = repr([dict(r) for r in stored])
    assert ana.email not in text
    assert "5550102030" not in text


async def test_add_list_and_remove_by_hand(
    app: App, db: asyncpg.Connection, db_url: str, blob_dir: Path
) -> None:
    tenant = await factories.tenant(db)
    env = processes.env(db_url, blob_dir, PRIVACY_TOKEN=app.dev_token or "")
    target = ["--target", f"127.0.0.1:{app.port}", "--tenant", tenant]
    people = ["--email", "no-contact@example.org", "--phone", "+44 20 7946 0958"]

    code, out = await processes.run(
        ["suppression", "add", *target, *people, "--reason-code", "data_subject_request"], env
    )
    assert code == 0, out
    assert "2 new of 2" in out
    code, out = await processes.run(["suppression", "add", *target, *people], env)
    assert code == 0, out
    assert "0 new of 2" in out  # suppressed already

    code, out = await processes.run(["suppression", "list", *target, "--limit", "1"], env)
    assert code == 0, out
    lines = _lines(out)
    row = HASH_ROW.match(lines[1])
    assert row, out
    assert row.group(2) == "-"  # by hand: no job
    assert row.group(3) == "dev"
    assert "data_subject_request" in lines[1]
    assert lines[2] == "1 entries"
    more = lines[3].removeprefix("more: privacyctl ").split()
    code, out = await processes.run([*more, "--target", f"127.0.0.1:{app.port}"], env)
    assert code == 0, out
    assert _lines(out)[-1] == "1 entries"

    code, out = await processes.run(["suppression", "remove", *target, *people], env)
    assert code == 64  # --reason-code is required: a wrong command line
    code, out = await processes.run(
        ["suppression", "remove", *target, *people, "--reason-code", "operator_correction"],
        env,
    )
    assert code == 0, out
    assert "2 of 2" in out
    code, out = await processes.run(["suppression", "check", *target, *people], env)
    assert code == 0, out
    assert _lines(out) == [
        "email no-contact@example.org: not suppressed",
        "phone +44 20 7946 0958: not suppressed",
    ]
    # Suppress takes valid identifiers only: the service refuses, privacyctl exits 2.
    code, out = await processes.run(["suppression", "add", *target, "--email", "nope"], env)
    assert code == 2, out
    assert "INVALID_ARGUMENT" in out


async def test_scopes_read_and_write(
    app: App, db: asyncpg.Connection, db_url: str, blob_dir: Path
) -> None:
    tenant = await factories.tenant(db)
    env = processes.env(db_url, blob_dir)
    code, out = await processes.run(
        ["credentials", "create", "ingest", "--scope", "suppression.read", "--tenant", tenant],
        env,
    )
    assert code == 0, out
    reader = {**env, "PRIVACY_TOKEN": out.strip().splitlines()[-1]}
    target = ["--target", f"127.0.0.1:{app.port}", "--tenant", tenant]
    code, out = await processes.run(
        ["suppression", "check", *target, "--email", "a@example.com"], reader
    )
    assert code == 0, out
    code, out = await processes.run(["suppression", "list", *target], reader)
    assert code == 0, out
    code, out = await processes.run(
        ["suppression", "add", *target, "--email", "a@example.com"], reader
    )
    assert code == 2
    assert "PERMISSION_DENIED" in out
