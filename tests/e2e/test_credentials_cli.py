"""`privacyctl credentials create|list|revoke`, run as a real process."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import asyncpg
import grpc
import pytest

from clients.client import PrivacyClient, PrivacyClientError
from server.app import App
from server.config import Settings
from tests import factories
from tests.helpers import processes


@pytest.fixture
async def uncached(settings: Settings) -> AsyncIterator[App]:
    async with App(replace(settings, auth_cache=timedelta(0), dev_credential=False)) as app:
        yield app


async def test_create_list_and_revoke_a_credential(
    uncached: App, db: asyncpg.Connection, db_url: str, blob_dir: Path
) -> None:
    await factories.tenant(db, "acme")
    env = processes.env(db_url, blob_dir)
    code, out = await processes.run(
        ["credentials", "create", "helpdesk", "--scope", "jobs.read", "--tenant", "acme"], env
    )
    assert code == 0, out
    token = out.strip().splitlines()[-1]
    assert token.startswith("prv_")
    target = f"127.0.0.1:{uncached.port}"
    async with PrivacyClient(target, token=token) as client:
        assert list((await client.list_jobs("acme")).jobs) == []
        with pytest.raises(PrivacyClientError) as other_tenant:
            await client.list_jobs("globex")
        assert other_tenant.value.code is grpc.StatusCode.PERMISSION_DENIED

        code, listed = await processes.run(["credentials", "list"], env)
        assert code == 0
        assert ["helpdesk", "active", "jobs.read", "acme"] in [
            line.split() for line in listed.splitlines()
        ]
        assert token not in listed
        code, listed = await processes.run(["credentials", "list", "-o", "json"], env)
        assert code == 0, listed
        (helpdesk,) = json.loads(listed)["credentials"]
        assert helpdesk["name"] == "helpdesk"
        assert (helpdesk["scopes"], helpdesk["tenants"]) == (["jobs.read"], ["acme"])
        assert helpdesk["revoked_at"] is None
        assert token not in listed

        code, out = await processes.run(["credentials", "revoke", "helpdesk"], env)
        assert (code, out.strip()) == (0, "credential 'helpdesk' revoked")
        with pytest.raises(PrivacyClientError) as revoked:
            await client.list_jobs("acme")
        assert revoked.value.code is grpc.StatusCode.UNAUTHENTICATED
    code, listed = await processes.run(["credentials", "list"], env)
    assert [line.split()[:2] for line in listed.splitlines()[1:]] == [["helpdesk", "revoked"]]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["create", "svc", "--scope", "delete", "--tenant", "acme"], "unknown scope 'delete'"),
        (["create", "Bad Name", "--scope", "erase", "--tenant", "acme"], "name:"),
        (["revoke", "nobody"], "no active credential named 'nobody'"),
    ],
)
async def test_bad_credential_commands_say_why_and_fail(
    db_url: str, blob_dir: Path, template_db: str, args: list[str], says: str
) -> None:
    code, out = await processes.run(["credentials", *args], processes.env(db_url, blob_dir))
    assert code == 1
    assert says in out
