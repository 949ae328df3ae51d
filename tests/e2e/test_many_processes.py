"""One service in two real serving processes on one database: the rate limit holds
for the service as a whole (together they accept the limit, not twice it), another
tenant's caller is not slowed by it, and a revoked credential is refused by every
process once the authentication cache has run out (docs/security.md)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import asyncpg
import grpc

from clients.client import PrivacyClient, PrivacyClientError, subject
from server import credentials
from server.credentials import Scope
from tests import factories
from tests.helpers import processes
from tests.helpers.waiting import eventually

BURST = 3


@asynccontextmanager
async def two_servers(
    db_url: str, blob_dir: Path, tmp_path: Path, **extra: str
) -> AsyncIterator[tuple[int, int, str]]:
    """(port of one, port of the other, the development token)."""
    ports = [processes.free_port() for _ in range(2)]
    started: list[asyncio.subprocess.Process] = []
    try:
        for i, port in enumerate(ports):
            environment = processes.env(
                db_url,
                blob_dir,
                PRIVACY_GRPC_ADDR=f"127.0.0.1:{port}",
                PRIVACY_WORKERS="0",
                **extra,
            )
            started.append(await processes.start(["serve"], environment, tmp_path / f"{i}.log"))
            await processes.wait_serving(port)  # the first serve writes the dev token
        yield ports[0], ports[1], processes.dev_token(environment)
    finally:
        for process in started:
            if process.returncode is None:
                process.terminate()
                await process.wait()


async def _erase(client: PrivacyClient, tenant: str, n: int) -> bool:
    """True: accepted; False: refused by the rate limit."""
    try:
        await client.erase(tenant, subject(email=f"person.{n}@example.com"))
    except PrivacyClientError as exc:
        if exc.code is grpc.StatusCode.RESOURCE_EXHAUSTED:
            return False
        raise
    return True


async def test_two_processes_share_one_rate_limit_and_other_tenants_are_not_slowed(
    db: asyncpg.Connection, db_url: str, blob_dir: Path, tmp_path: Path
) -> None:
    await factories.tenant(db, "acme")
    await factories.tenant(db, "globex")
    for n in range(4 * BURST):
        await factories.contact(db, "acme", "Person", str(n))
    await factories.contact(db, "globex", "Person", "0")
    limits = {"PRIVACY_RATE_LIMIT_PER_MINUTE": "1", "PRIVACY_RATE_LIMIT_BURST": str(BURST)}
    async with two_servers(db_url, blob_dir, tmp_path, **limits) as (port_a, port_b, token):
        scopes = frozenset({Scope.ERASE})
        globex_token = await credentials.create(db, "globex-app", scopes, ["globex"])
        async with (
            PrivacyClient(f"127.0.0.1:{port_a}", token=token) as a,
            PrivacyClient(f"127.0.0.1:{port_b}", token=token) as b,
            PrivacyClient(f"127.0.0.1:{port_b}", token=globex_token) as other,
        ):
            # Alternating between the processes: per process, each would accept BURST.
            accepted = [await _erase((a, b)[n % 2], "acme", n) for n in range(4 * BURST)]
            # The limit, plus at most one token refilled while the calls ran (one a
            # minute); per-process buckets would have accepted 2 * BURST.
            assert BURST <= sum(accepted) <= BURST + 1, accepted
            assert accepted[:BURST] == [True] * BURST
            # Another tenant's caller, on the same process, at once.
            assert await _erase(other, "globex", 0)
    jobs = await db.fetchval("SELECT count(*) FROM privacy_jobs WHERE tenant_id = 'acme'")
    assert jobs == sum(accepted)


async def test_a_revoked_credential_is_refused_by_every_process(
    db: asyncpg.Connection, db_url: str, blob_dir: Path, tmp_path: Path
) -> None:
    await factories.tenant(db, "acme")
    cache = {"PRIVACY_AUTH_CACHE_SECONDS": "2"}
    async with two_servers(db_url, blob_dir, tmp_path, **cache) as (port_a, port_b, _):
        token = await credentials.create(db, "crm-app", frozenset({Scope.JOBS_READ}), ["acme"])
        async with (
            PrivacyClient(f"127.0.0.1:{port_a}", token=token) as a,
            PrivacyClient(f"127.0.0.1:{port_b}", token=token) as b,
        ):
            # Both processes know the credential (and cache it).
            for client in (a, b):
                assert list((await client.list_jobs("acme")).jobs) == []
            await credentials.revoke(db, "crm-app")

            async def refused(client: PrivacyClient) -> bool:
                try:
                    await client.list_jobs("acme")
                except PrivacyClientError as exc:
                    if exc.code is not grpc.StatusCode.UNAUTHENTICATED:
                        raise
                    return True
                return False

            for client in (a, b):
                await eventually(partial(refused, client), timeout=30, what="revocation")
            # And it stays refused: a miss is never cached as a caller.
            for client in (a, b):
                assert await refused(client)
