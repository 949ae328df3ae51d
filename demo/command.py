"""`privacyctl seed`: create a demo tenant in the service's database and say what it holds."""

from __future__ import annotations

import asyncio

import asyncpg

from demo.seeding import seed_tenant
from server.commands import EXIT_CONFIG, EXIT_FAILED, EXIT_OK
from server.config import ConfigError, Settings
from server.database import connect_and_migrate, resolve_url
from server.errors import PrivacyError
from server.s3_blobs import open_blob_store


def seed(tenant_id: str, *, contacts: int, seed: int) -> int:
    """Create demo tenant `tenant_id` with `contacts` contacts from random seed `seed`
    (settings from the environment, as `privacyctl serve`), print what it holds; returns
    the exit status."""
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"privacyctl: {error}", flush=True)
        return EXIT_CONFIG
    try:
        asyncio.run(_seed(settings, tenant_id, contacts=contacts, seed=seed))
    except PrivacyError as error:
        print(f"privacyctl seed: {error.message}", flush=True)
        return EXIT_FAILED
    return EXIT_OK


async def _seed(settings: Settings, tenant_id: str, *, contacts: int, seed: int) -> None:
    # The embedded database when DATABASE_URL is unset; migrated first.
    url = resolve_url(settings.database_url, settings.data_dir)
    await connect_and_migrate(url)
    conn = await asyncpg.connect(url)
    try:
        # The store the server uses (PRIVACY_BLOB_URL or the blob directory).
        summary = await seed_tenant(
            conn, open_blob_store(settings), tenant_id, contacts=contacts, seed=seed
        )
        # Demo data, made up by faker: safe to show, and it saves a look-up.
        sample = await conn.fetchval(
            "SELECT email FROM contacts WHERE tenant_id = $1 ORDER BY id LIMIT 1", tenant_id
        )
    finally:
        await conn.close()
    print(
        f"seeded tenant {summary.tenant_id!r}: {summary.contacts} contacts, "
        f"{summary.messages} messages, {summary.notes} notes, {summary.deals} deals, "
        f"{summary.files} files, {summary.users} users, {summary.sessions} sessions, "
        f"{summary.usage_events} usage events"
    )
    if sample:
        print(f"try: privacyctl erase --tenant {tenant_id} --email {sample} --wait")
