"""What privacyctl prints where, as real processes: results on stdout, errors and
progress on stderr, one message (never a traceback) for a user's mistake, and the
exit statuses in every command's help."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest

from console import privacyctl
from console.exit_codes import (
    EXIT_JOB_NOT_SUCCEEDED,
    EXIT_OK,
    EXIT_RPC_ERROR,
    EXIT_USAGE,
    HELP,
)
from server.app import App
from server.config import Settings
from server.subjects import SubjectKind
from tests import factories
from tests.helpers import processes
from tests.helpers.workers import JobRunner, Outcome


async def test_export_to_stdout_carries_the_records_and_nothing_else(
    app: App, db: asyncpg.Connection, db_url: str, blob_dir: Path
) -> None:
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe", messages=2)
    env = processes.app_env(app, db_url, blob_dir)

    ran = await processes.run_apart(
        ["export", "--tenant", tenant, "--contact-id", "999999", "--out", "-"], env
    )
    assert ran.code == EXIT_RPC_ERROR, ran
    assert ran.out == ""  # `--out - > f.ndjson`: no error in the file
    assert "NOT_FOUND" in ran.err

    ran = await processes.run_apart(
        ["export", "--tenant", tenant, "--contact-id", str(jane.id), "--out", "-"], env
    )
    assert ran.code == EXIT_OK, ran
    records = [json.loads(line) for line in ran.out.splitlines()]  # NDJSON, all of it
    assert {r.get("data_type") for r in records} >= {"contacts", "messages"}, records


async def test_an_invalid_argument_is_said_once_on_stderr(
    app: App, db: asyncpg.Connection, db_url: str, blob_dir: Path
) -> None:
    tenant = await factories.tenant(db)
    ran = await processes.run_apart(
        ["erase", "--tenant", tenant, "--email", "not-an-email"],
        processes.app_env(app, db_url, blob_dir),
    )
    assert ran.code == EXIT_RPC_ERROR, ran
    assert ran.out == ""
    assert ran.err.count("is not an email address") == 1, ran.err
    assert "INVALID_ARGUMENT: subject.email: is not an email address" in ran.err


async def test_an_export_to_a_directory_that_is_not_there_is_a_usage_error(
    app: App, db: asyncpg.Connection, db_url: str, blob_dir: Path, tmp_path: Path
) -> None:
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe")
    missing = tmp_path / "nonexistent" / "dir"
    for name in ("x.zip", "x.ndjson"):
        ran = await processes.run_apart(
            [
                "export",
                "--tenant",
                tenant,
                "--contact-id",
                str(jane.id),
                "--out",
                str(missing / name),
            ],
            processes.app_env(app, db_url, blob_dir),
        )
        assert ran.code == EXIT_USAGE, ran
        assert ran.err == f"privacyctl export: no such directory to write in: {missing}\n"
        assert ran.out == ""
    # Refused before the service was asked: no export in the audit log.
    assert (
        await db.fetchval("SELECT count(*) FROM privacy_audit_log WHERE action LIKE 'export%'") == 0
    )


async def test_no_service_at_the_target_says_how_to_start_one(db_url: str, blob_dir: Path) -> None:
    target = f"127.0.0.1:{processes.free_port()}"
    ran = await processes.run_apart(
        ["jobs", "--tenant", "acme", "--target", target], processes.env(db_url, blob_dir)
    )
    assert ran.code == EXIT_RPC_ERROR, ran
    assert ran.out == ""
    assert f"no privacy service answers at {target}: start one with `privacyctl serve`" in ran.err
    assert "Traceback" not in ran.err


async def test_an_empty_hold_list_says_so(
    app: App, db: asyncpg.Connection, db_url: str, blob_dir: Path
) -> None:
    tenant = await factories.tenant(db)
    env = processes.app_env(app, db_url, blob_dir)
    ran = await processes.run_apart(["hold", "list", "--tenant", tenant], env)
    assert (ran.code, ran.err) == (EXIT_OK, ""), ran
    assert ran.out == f"no active legal holds (--all: released ones too) in tenant {tenant}\n"
    ran = await processes.run_apart(["hold", "list", "--tenant", tenant, "--all"], env)
    assert ran.out == f"no legal holds in tenant {tenant}\n"


async def test_retention_rules_of_one_read_as_english(
    db: asyncpg.Connection, db_url: str, blob_dir: Path
) -> None:
    tenant = await factories.tenant(db)
    rules = ["--activity-months", "1", "--closed-account-days", "1"]
    ran = await processes.run_apart(
        ["retention", "set", "--tenant", tenant, *rules], processes.env(db_url, blob_dir)
    )
    assert ran.code == EXIT_OK, ran
    assert ran.out == (
        f"retention of {tenant!r}: anonymize activity older than: 1 month; "
        "erase accounts closed for: 1 day\n"
    )


@pytest.fixture
def quiet(settings: Settings) -> Settings:
    """A server that runs no job: the test's JobRunner runs the batches."""
    return replace(settings, workers=0)


async def test_a_cancelled_job_and_cancelling_an_ended_one_read_as_sentences(
    quiet: Settings, worker: JobRunner, db: asyncpg.Connection, db_url: str, blob_dir: Path
) -> None:
    tenant = await factories.tenant(db)
    jane = await factories.contact(db, tenant, "Jane", "Doe", messages=10)
    async with App(quiet) as app:
        env = processes.app_env(app, db_url, blob_dir)
        job = await worker.erase(tenant, SubjectKind.EMAIL, jane.email)
        assert await worker.lease() == job.id
        # Batches until the first of messages is done (3 rows: batch_size=3).
        while await db.fetchval("SELECT count(*) FROM messages") == 10:
            assert await worker.run_batch(job.id) is Outcome.MORE
        ran = await processes.run_apart(["cancel", str(job.id)], env)
        assert ran.code == EXIT_OK, ran
        assert await worker.run_batch(job.id) is Outcome.DONE  # the batch boundary

        ran = await processes.run_apart(["watch", str(job.id)], env)
        assert ran.code == EXIT_JOB_NOT_SUCCEEDED, ran
        assert f"job {job.id} cancelled" in ran.out, ran.out
        assert "cancelled at a batch boundary after 3 rows (" in ran.out, ran.out
        assert "{" not in ran.out  # no Python dict

        ran = await processes.run_apart(["cancel", str(job.id)], env)
        assert ran.code == EXIT_RPC_ERROR, ran
        assert f"job {job.id} has already ended (cancelled): nothing to cancel" in ran.err


async def test_seed_shows_its_progress_on_stderr_and_its_summary_on_stdout(
    db_url: str, blob_dir: Path
) -> None:
    ran = await processes.run_apart(
        ["seed", "--tenant", "demo", "--contacts", "30"], processes.env(db_url, blob_dir)
    )
    assert ran.code == EXIT_OK, ran
    assert ran.out.startswith("seeded tenant 'demo': 30 contacts"), ran.out
    assert "seeding contacts" in ran.err
    assert "30/30" in ran.err


async def test_help_lists_the_exit_statuses_and_a_wrong_command_line_exits_64(
    db_url: str, blob_dir: Path
) -> None:
    env = processes.env(db_url, blob_dir)
    for args in (["--help"], ["export", "--help"], ["hold", "set", "--help"]):
        ran = await processes.run_apart(args, env)
        assert ran.code == EXIT_OK, ran
        assert ran.out.endswith(HELP), ran.out
        for code in ("0", "1", "2", "64", "69", "78"):
            assert f"\n  {code} " in ran.out
    ran = await processes.run_apart(["jobs", "--tenant"], env)
    assert ran.code == EXIT_USAGE, ran
    assert "expected one argument" in ran.err
    assert ran.out == ""


def test_every_command_s_help_ends_with_the_exit_statuses() -> None:
    """Every parser, subcommands' too, down to `hold set`: none made another way."""
    pending = [privacyctl._parser()]
    seen = 0
    while pending:
        parser = pending.pop()
        seen += 1
        assert parser.format_help().endswith(HELP), parser.prog
        for action in parser._subparsers._group_actions if parser._subparsers else ():
            pending.extend(action.choices.values())  # type: ignore[union-attr]
    assert seen > 25  # privacyctl, its commands and their own
