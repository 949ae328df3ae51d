"""`privacyctl seed`: create a demo tenant in the service's database and say what it holds."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import asyncpg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from demo.seeding import SeedSummary, seed_tenant
from server.commands import EXIT_CONFIG, EXIT_OK, run_database_command
from server.config import ConfigError, Settings
from server.database import connect_and_migrate, resolve_url
from server.s3_blobs import open_blob_store


def seed(tenant_id: str, *, contacts: int, seed: int) -> int:
    """Create demo tenant `tenant_id` with `contacts` contacts from random seed `seed`
    (settings from the environment, as `privacyctl serve`), print what it holds; returns
    the exit status. Progress goes to stderr: thousands of contacts take a while."""
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"privacyctl: {error}", file=sys.stderr, flush=True)
        return EXIT_CONFIG

    async def go() -> int:
        # The embedded database only if `serve` made it (never a new one here); migrated,
        # before the bar shows: no progress for a database that is not there.
        url = resolve_url(settings.database_url, settings.data_dir, create=False)
        await connect_and_migrate(url)
        with _progress(contacts) as progress:
            summary, sample = await _seed(
                settings, url, tenant_id, contacts=contacts, seed=seed, progress=progress
            )
        print(
            f"seeded tenant {summary.tenant_id!r}: {summary.contacts} contacts, "
            f"{summary.messages} messages, {summary.notes} notes, {summary.deals} deals, "
            f"{summary.files} files, {summary.users} users, {summary.sessions} sessions, "
            f"{summary.usage_events} usage events"
        )
        if sample:
            print(f"try: privacyctl erase --tenant {tenant_id} --email {sample} --wait")
        return EXIT_OK

    return run_database_command("seed", settings, go)


@contextmanager
def _progress(contacts: int) -> Iterator[Callable[[int], None]]:
    """A bar of contacts written, on stderr; the commit after the last chunk is part of
    the time shown."""
    with Progress(
        TextColumn("seeding contacts"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        # stdout is the results' alone, never the bar's.
        redirect_stdout=False,
    ) as bar:
        task = bar.add_task("contacts", total=contacts)
        yield lambda written: bar.update(task, completed=written)


async def _seed(
    settings: Settings,
    url: str,
    tenant_id: str,
    *,
    contacts: int,
    seed: int,
    progress: Callable[[int], None],
) -> tuple[SeedSummary, str | None]:
    """The tenant seeded, and one of its contacts' emails to try."""
    conn = await asyncpg.connect(url)
    try:
        # The store the server uses (PRIVACY_BLOB_URL or the blob directory).
        summary = await seed_tenant(
            conn,
            open_blob_store(settings),
            tenant_id,
            contacts=contacts,
            seed=seed,
            progress=progress,
        )
        # Demo data, made up by faker: safe to show, and it saves a look-up.
        sample = await conn.fetchval(
            "SELECT email FROM contacts WHERE tenant_id = $1 ORDER BY id LIMIT 1", tenant_id
        )
    finally:
        await conn.close()
    return summary, sample
