"""What a scheduled or held job waits for, as privacyctl shows it (real processes):
its not_before time, the legal hold that keeps it, its deadline."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from console.exit_codes import EXIT_JOB_NOT_SUCCEEDED, EXIT_OK, EXIT_RPC_ERROR
from demo.seeding import seed_tenant
from server.app import App
from server.blobs import BlobStore
from tests import factories
from tests.helpers import processes
from tests.helpers.waiting import eventually

_UTC_MINUTE = "%Y-%m-%d %H:%M UTC"


async def _deadline(db: asyncpg.Connection, job_id: str) -> str:
    deadline: datetime = await db.fetchval(
        "SELECT deadline FROM privacy_jobs WHERE id = $1::uuid", job_id
    )
    return deadline.astimezone(UTC).strftime(_UTC_MINUTE)


async def _said(path: Path, text: str) -> None:
    async def there() -> bool:
        return text in await asyncio.to_thread(path.read_text)

    await eventually(there, what=f"{text!r} in {path.name}")


async def test_a_scheduled_job_shows_when_it_starts_and_its_deadline(
    app: App, db: asyncpg.Connection, db_url: str, blob_dir: Path, tmp_path: Path
) -> None:
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe")
    env = processes.app_env(app, db_url, blob_dir)
    later = (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0)
    ran = await processes.run_apart(
        ["erase", "--tenant", tenant, "--email", jane.email, "--not-before", later.isoformat()],
        env,
    )
    assert ran.code == EXIT_OK, ran
    job_id = re.findall(r"accepted job (\S+) scheduled", ran.out)[0]
    deadline = await _deadline(db, job_id)
    starts = later.strftime(_UTC_MINUTE)
    assert f"waits for its start time: not before {starts}; deadline {deadline}" in ran.out

    ran = await processes.run_apart(["jobs", "--tenant", tenant], env)
    assert ran.code == EXIT_OK, ran
    assert f"not before {starts}" in ran.out, ran.out
    assert deadline in ran.out, ran.out

    # watch says what it waits for, then waits (until the job is cancelled here).
    out, err = tmp_path / "watch.out", tmp_path / "watch.err"
    watch = await processes.start_apart(["watch", job_id], env, out, err)
    try:
        await _said(
            err, f"job {job_id} is scheduled: waiting for its start time: not before {starts}"
        )
        ran = await processes.run_apart(["cancel", job_id], env)
        assert ran.code == EXIT_OK, ran
        assert await asyncio.wait_for(watch.wait(), 30) == EXIT_JOB_NOT_SUCCEEDED
    finally:
        if watch.returncode is None:
            watch.kill()
            await watch.wait()
    assert f"job {job_id} cancelled" in out.read_text()


async def test_erase_wait_on_a_held_subject_names_the_hold_it_waits_for(
    app: App, db: asyncpg.Connection, db_url: str, blob_dir: Path, tmp_path: Path
) -> None:
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe", messages=2)
    env = processes.app_env(app, db_url, blob_dir)
    ran = await processes.run_apart(
        ["hold", "set", "--tenant", tenant, "--email", jane.email, "--reason", "case 17"], env
    )
    assert ran.code == EXIT_OK, ran
    hold_id = ran.out.split()[1]

    out, err = tmp_path / "erase.out", tmp_path / "erase.err"
    erase = await processes.start_apart(
        ["erase", "--tenant", tenant, "--email", jane.email, "--wait"], env, out, err
    )
    try:
        await _said(err, f"is held: waiting for the release of legal hold {hold_id}")
        assert f"privacyctl hold release {hold_id}" in err.read_text()
        accepted = out.read_text()
        assert " held: " in accepted, accepted
        assert f"waits for the release of legal hold {hold_id}" in accepted
        job_id = re.findall(r"accepted job (\S+) held", accepted)[0]
        assert f"; deadline {await _deadline(db, job_id)}" in accepted

        ran = await processes.run_apart(["hold", "release", hold_id, "--reason", "closed"], env)
        assert ran.code == EXIT_OK, ran
        assert await asyncio.wait_for(erase.wait(), 60) == EXIT_OK
    finally:
        if erase.returncode is None:
            erase.kill()
            await erase.wait()
    assert f"job {job_id} succeeded" in out.read_text()


async def test_a_start_past_the_default_deadline_says_the_default_and_how_to_set_one(
    app: App, db: asyncpg.Connection, db_url: str, blob_dir: Path
) -> None:
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe")
    too_late = (datetime.now(UTC) + timedelta(days=40)).isoformat()
    ran = await processes.run_apart(
        ["erase", "--tenant", tenant, "--email", jane.email, "--not-before", too_late],
        processes.app_env(app, db_url, blob_dir),
    )
    assert ran.code == EXIT_RPC_ERROR, ran
    assert "none was given, so it is the default, the request time + 30 days (" in ran.err
    assert "--deadline TIME" in ran.err
    assert ran.out == ""


async def test_delete_account_shows_the_grace_period_s_end_and_the_deadline(
    app: App, db: asyncpg.Connection, db_url: str, blob_dir: Path, blobs: BlobStore
) -> None:
    await seed_tenant(db, blobs, "demo", contacts=2, seed=1)
    user_id = await db.fetchval("SELECT min(id) FROM users WHERE tenant_id = 'demo'")
    ran = await processes.run_apart(
        ["delete-account", "--tenant", "demo", "--user-id", str(user_id), "--grace-days", "3"],
        processes.app_env(app, db_url, blob_dir),
    )
    assert ran.code == EXIT_OK, ran
    job_id = re.findall(r"scheduled job (\S+) scheduled", ran.out)[0]
    starts: datetime = await db.fetchval(
        "SELECT not_before FROM privacy_jobs WHERE id = $1::uuid", job_id
    )
    assert (
        f"waits for its start time: not before {starts.astimezone(UTC).strftime(_UTC_MINUTE)}; "
        f"deadline {await _deadline(db, job_id)}"
    ) in ran.out, ran.out
