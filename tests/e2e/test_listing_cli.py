"""privacyctl's listings as real processes against a served App: whole ids at 80
columns, `-o table|wide|json`, `jobs --all-tenants`, unknown tenants refused, and
`find` (docs/cli.md)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from server.app import App
from server.config import Settings
from tests import factories
from tests.helpers import processes

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Scheduled: the jobs stay as they are.
NOT_BEFORE = (datetime.now(UTC) + timedelta(days=20)).replace(microsecond=0).isoformat()


@pytest.fixture
async def accepting(settings: Settings) -> AsyncIterator[App]:
    """A server that accepts jobs and runs none, asking the database about every token."""
    async with App(replace(settings, workers=0, auth_cache=timedelta(0))) as app:
        yield app


def _env(app: App, db_url: str, blob_dir: Path, token: str | None = None) -> dict[str, str]:
    return processes.env(
        db_url,
        blob_dir,
        PRIVACY_TOKEN=token or app.dev_token or "",
        PRIVACY_GRPC_ADDR=f"127.0.0.1:{app.port}",
    )


async def _erase(env: dict[str, str], tenant: str, email: str) -> str:
    code, out = await processes.run(
        ["erase", "--tenant", tenant, "--email", email, "--not-before", NOT_BEFORE], env
    )
    assert code == 0, out
    found = UUID.search(out)
    assert found, out
    return found.group()


async def test_jobs_prints_whole_ids_at_80_columns_and_json_and_wide(
    accepting: App, db: asyncpg.Connection, db_url: str, blob_dir: Path
) -> None:
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe", messages=2)
    env = _env(accepting, db_url, blob_dir)
    job_id = await _erase(env, tenant, jane.email)

    code, out = await processes.run(["jobs", "--tenant", tenant], env, columns=80)
    assert code == 0, out
    header, row = out.splitlines()
    assert header.split()[:4] == ["id", "kind", "state", "created"]
    assert row.split()[:3] == [job_id, "erase", "scheduled"]  # the id whole, pasteable

    code, out = await processes.run(["jobs", "--tenant", tenant, "-o", "json"], env, columns=80)
    assert code == 0, out
    (job,) = json.loads(out)["jobs"]
    assert (job["id"], job["tenant_id"], job["kind"], job["state"]) == (
        job_id,
        tenant,
        "erase",
        "scheduled",
    )
    assert job["not_before"] == NOT_BEFORE
    assert job["cancel_requested"] is False
    assert {p["data_type"] for p in job["progress"]} >= {"contacts", "messages"}

    code, out = await processes.run(["jobs", "--tenant", tenant, "-o", "wide"], env, columns=80)
    assert code == 0, out
    header, row = out.splitlines()
    assert {"tenant", "not_before", "deadline", "priority", "subject_hash"} <= set(header.split())
    assert job_id in row.split()
    assert NOT_BEFORE in row.split()


async def test_jobs_across_tenants_for_a_credential_of_every_tenant_only(
    accepting: App, db: asyncpg.Connection, db_url: str, blob_dir: Path
) -> None:
    acme, globex = await factories.tenant(db, "acme"), await factories.tenant(db, "globex")
    jane = await factories.contact(db, acme, "Jane", "Doe")
    john = await factories.contact(db, globex, "John", "Roe")
    env = _env(accepting, db_url, blob_dir)  # the development credential: tenants '*'
    acme_job = await _erase(env, acme, jane.email)
    globex_job = await _erase(env, globex, john.email)

    code, out = await processes.run(["jobs", "--all-tenants"], env, columns=80)
    assert code == 0, out
    header, *rows = out.splitlines()
    assert header.split()[:3] == ["id", "tenant", "kind"]
    assert sorted(r.split()[:2] for r in rows) == sorted(
        [[acme_job, "acme"], [globex_job, "globex"]]
    )
    # The runbook's question: which tenants have jobs waiting?
    code, out = await processes.run(
        ["jobs", "--all-tenants", "--state", "scheduled", "-o", "json"], env
    )
    assert code == 0, out
    assert sorted(j["tenant_id"] for j in json.loads(out)["jobs"]) == ["acme", "globex"]
    code, out = await processes.run(["jobs", "--all-tenants", "--state", "running"], env)
    assert (code, out.splitlines()[1:]) == (0, [])

    code, out = await processes.run(
        ["credentials", "create", "acme-desk", "--scope", "jobs.read", "--tenant", acme], env
    )
    assert code == 0, out
    one_tenant = {**env, "PRIVACY_TOKEN": out.strip().splitlines()[-1]}
    code, out = await processes.run(["jobs", "--all-tenants"], one_tenant)
    assert code == 2, out
    assert "PERMISSION_DENIED" in out
    assert "may not list every tenant's jobs" in out
    assert acme_job not in out
    assert globex_job not in out
    code, out = await processes.run(["jobs", "--tenant", acme], one_tenant)
    assert code == 0, out
    assert acme_job in out


@pytest.mark.parametrize(
    "args",
    [
        ["jobs", "--tenant", "nosuch"],
        ["jobs", "--tenant", "nosuch", "-o", "json"],
        ["hold", "list", "--tenant", "nosuch"],
    ],
)
async def test_an_unknown_tenant_is_not_found_not_an_empty_listing(
    accepting: App, db: asyncpg.Connection, db_url: str, blob_dir: Path, args: list[str]
) -> None:
    await factories.tenant(db, "acme")
    code, out = await processes.run(args, _env(accepting, db_url, blob_dir))
    assert code == 2, out
    assert "NOT_FOUND" in out
    assert "no tenant with tenant_id 'nosuch'" in out


async def test_audit_verify_of_an_unknown_tenant_fails_and_says_so(
    db: asyncpg.Connection, db_url: str, blob_dir: Path
) -> None:
    await factories.tenant(db, "acme")
    env = processes.env(db_url, blob_dir)
    code, out = await processes.run(["audit", "verify", "--tenant", "acme"], env)
    assert code == 0, out
    assert "audit log of 'acme': intact, 0 entries" in out
    code, out = await processes.run(["audit", "verify", "--tenant", "nosuch"], env)
    assert code == 1, out
    assert "no tenant with tenant_id 'nosuch'" in out
    assert "intact" not in out


async def test_holds_retention_and_suppressions_print_json(
    accepting: App, db: asyncpg.Connection, db_url: str, blob_dir: Path
) -> None:
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe")
    env = _env(accepting, db_url, blob_dir)
    code, out = await processes.run(
        ["hold", "set", "--tenant", tenant, "--email", jane.email, "--reason", "case 17"], env
    )
    assert code == 0, out
    hold_id = out.split()[1]

    code, out = await processes.run(["hold", "list", "--tenant", tenant], env, columns=80)
    assert code == 0, out
    assert out.splitlines()[1].split()[:3] == [hold_id, "active", "subject"]
    code, out = await processes.run(["hold", "list", "--tenant", tenant, "-o", "json"], env)
    assert code == 0, out
    (hold,) = json.loads(out)["holds"]
    assert (hold["id"], hold["reason"], hold["released_at"]) == (hold_id, "case 17", None)
    assert re.fullmatch(r"[0-9a-f]{64}", hold["subject_hash"])
    assert jane.email not in out

    code, out = await processes.run(["retention", "show", "--tenant", tenant, "-o", "json"], env)
    assert code == 0, out
    assert json.loads(out) == {
        "retention": {"tenant_id": tenant, "activity_months": 13, "closed_account_days": 7}
    }
    code, out = await processes.run(["retention", "show", "--tenant", tenant], env)
    assert code == 0, out
    assert out.splitlines()[1].split() == [tenant, "13", "months", "7", "days"]

    suppression = ["suppression", "add", "--tenant", tenant, "--email", "no@example.org"]
    code, out = await processes.run([*suppression, "-o", "json"], env)
    assert code == 0, out
    assert json.loads(out) == {"tenant_id": tenant, "added": 1, "identifiers": 1}
    check = ["suppression", "check", "--tenant", tenant]
    code, out = await processes.run(
        [*check, "--email", "NO@example.org", "--phone", "12", "-o", "json"], env
    )
    assert code == 0, out
    assert json.loads(out) == {
        "answers": [
            {"kind": "email", "value": "NO@example.org", "answer": "suppressed"},
            {"kind": "phone", "value": "12", "answer": "invalid"},
        ]
    }
    code, out = await processes.run(["suppression", "list", "--tenant", tenant, "-o", "json"], env)
    assert code == 0, out
    listed = json.loads(out)
    assert listed["next_page_token"] == ""
    (entry,) = listed["suppressions"]
    assert (entry["kind"], entry["job_id"], entry["reason_code"]) == ("email", None, "unspecified")
    assert "no@example.org" not in out


async def test_find_prints_the_ids_erase_would_cover_and_is_audited(
    accepting: App, db: asyncpg.Connection, db_url: str, blob_dir: Path
) -> None:
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe", phone="+1 (555) 010-2030")
    await factories.contact(db, tenant, "Janet", "Doe", phone="+44 20 7946 0958")
    user_id = await db.fetchval(
        "INSERT INTO users (tenant_id, email, name) VALUES ($1, $2, 'Jane') RETURNING id",
        tenant,
        jane.email.upper(),
    )
    env = _env(accepting, db_url, blob_dir)

    code, out = await processes.run(["find", "--tenant", tenant, "--email", jane.email], env)
    assert code == 0, out
    assert [line.split() for line in out.splitlines()] == [
        ["kind", "id"],
        ["contact", str(jane.id)],
        ["user", str(user_id)],
    ]
    code, out = await processes.run(
        ["find", "--tenant", tenant, "--phone", "(555) 010-2030", "-o", "json"], env
    )
    assert code == 0, out
    assert json.loads(out) == {"contact_ids": [jane.id], "user_ids": []}
    code, out = await processes.run(
        ["find", "--tenant", tenant, "--email", "nobody@example.com", "-o", "json"], env
    )
    assert code == 0, out
    assert json.loads(out) == {"contact_ids": [], "user_ids": []}
    code, out = await processes.run(
        ["find", "--tenant", tenant, "--email", "nobody@example.com"], env
    )
    assert (code, out.strip()) == (0, f"no contact or user account in tenant {tenant!r} matches")

    # Audited as lookups, the subject as the keyed hash an Erase of it carries.
    lookups = await db.fetch(
        "SELECT subject_hash, details FROM privacy_audit_log "
        "WHERE tenant_id = $1 AND action = 'subject.lookup' ORDER BY seq",
        tenant,
    )
    assert [json.loads(r["details"]) for r in lookups] == [
        {"contacts": 1, "users": 1},
        {"contacts": 1, "users": 0},
        {"contacts": 0, "users": 0},
        {"contacts": 0, "users": 0},
    ]
    job_id = await _erase(env, tenant, jane.email.upper())
    erased = await db.fetchval("SELECT subject_hash FROM privacy_jobs WHERE id = $1", job_id)
    assert lookups[0]["subject_hash"] == erased
    log = "\n".join(str(tuple(r)) for r in await db.fetch("SELECT * FROM privacy_audit_log"))
    assert jane.email not in log.lower()
    assert "nobody@" not in log

    # Its own scope, and the caller's tenants, as every RPC.
    for scopes, tenants, allowed in (
        (["jobs.read"], [tenant], False),
        (["lookup"], ["globex"], False),
        (["lookup"], [tenant], True),
    ):
        name = f"{scopes[0]}-{tenants[0]}".replace(".", "-")
        create = ["credentials", "create", name, "--tenant", tenants[0]]
        code, out = await processes.run([*create, "--scope", scopes[0]], env)
        assert code == 0, out
        caller = {**env, "PRIVACY_TOKEN": out.strip().splitlines()[-1]}
        code, out = await processes.run(["find", "--tenant", tenant, "--email", jane.email], caller)
        assert (code == 0) is allowed, out
        if not allowed:
            assert "PERMISSION_DENIED" in out
            assert str(jane.id) not in out


async def test_find_refuses_what_is_no_email_or_phone_and_an_unknown_tenant(
    accepting: App, db: asyncpg.Connection, db_url: str, blob_dir: Path
) -> None:
    tenant = await factories.tenant(db)
    env = _env(accepting, db_url, blob_dir)
    for args, says in (
        (["--tenant", tenant, "--email", "not an email"], "identifier.email"),
        (["--tenant", tenant, "--phone", "12"], "identifier.phone"),
        (["--tenant", "nosuch", "--email", "jane@example.com"], "no tenant with tenant_id"),
    ):
        code, out = await processes.run(["find", *args], env)
        assert code == 2, out
        assert says in out
    assert await db.fetchval("SELECT count(*) FROM privacy_audit_log") == 0
