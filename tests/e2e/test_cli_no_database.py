"""The commands that work on the database directly, run as real processes where there
is none: they say where they looked and which variables to set, exit 69, and create
nothing; only `serve` (and `worker`) make the embedded database."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from pathlib import Path

import asyncpg
import pytest

from console.exit_codes import EXIT_CONFIG, EXIT_NO_DATABASE, EXIT_OK
from tests.helpers import processes
from tests.helpers.database import with_database

DATABASE_COMMANDS = [
    ["audit", "verify", "--tenant", "demo"],
    ["audit", "checkpoint"],
    ["credentials", "list"],
    ["retention", "show", "--tenant", "demo"],
    ["tenant", "region", "--tenant", "demo"],
    ["seed", "--tenant", "demo", "--contacts", "1"],
]


def _without_database(blob_dir: Path, **extra: str) -> dict[str, str]:
    """The tests' environment, less DATABASE_URL and PRIVACY_DATA_DIR: as an operator's
    shell that has neither set."""
    env = processes.env("", blob_dir)
    unset = {k: v for k, v in env.items() if k not in ("DATABASE_URL", "PRIVACY_DATA_DIR")}
    return {**unset, **extra}


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=" ".join)
async def test_a_database_command_in_another_directory_finds_no_database_and_says_so(
    blob_dir: Path, tmp_path: Path, command: list[str]
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    ran = await processes.run_apart(command, _without_database(blob_dir), cwd=elsewhere)
    assert ran.code == EXIT_NO_DATABASE, ran
    assert ran.out == ""  # results only on stdout, and there are none
    assert f"no embedded database in {elsewhere / '.data' / 'pg'}" in ran.err, ran.err
    assert "DATABASE_URL" in ran.err
    assert "PRIVACY_DATA_DIR" in ran.err
    assert "Traceback" not in ran.err
    assert list(elsewhere.iterdir()) == []  # no second, empty database


async def test_a_database_without_the_service_tables_none_at_the_url_or_no_url_says_so(
    server_url: str, blob_dir: Path
) -> None:
    admin = await asyncpg.connect(server_url)
    name = f"privacy_empty_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        empty = with_database(server_url, name)
        ran = await processes.run_apart(
            ["audit", "verify", "--tenant", "demo"], processes.env(empty, blob_dir)
        )
        assert ran.code == EXIT_NO_DATABASE, ran
        assert f"database {name}) holds no privacy service tables" in ran.err, ran.err
        assert "Traceback" not in ran.err
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    nobody = f"postgresql://postgres@127.0.0.1:{processes.free_port()}/privacy"
    ran = await processes.run_apart(["credentials", "list"], processes.env(nobody, blob_dir))
    assert ran.code == EXIT_NO_DATABASE, ran
    assert "cannot reach DATABASE_URL (host 127.0.0.1, database privacy)" in ran.err, ran.err
    assert "Traceback" not in ran.err

    for url in ("nonsense", "postgresql://privacy:s3cret@localhost:port/privacy"):
        ran = await processes.run_apart(["credentials", "list"], processes.env(url, blob_dir))
        assert ran.code == EXIT_CONFIG, ran
        assert "privacyctl credentials: DATABASE_URL is not a PostgreSQL URL (" in ran.err
        assert "s3cret" not in ran.err
        assert "Traceback" not in ran.err


async def test_serve_makes_the_embedded_database_others_use_it_and_its_log_is_json_lines(
    blob_dir: Path, tmp_path: Path
) -> None:
    """`serve` creates the embedded database (initdb's output a single log record, the
    log JSON lines throughout); a database command pointed at the same directory
    from anywhere works on it."""
    data = tmp_path / "data"
    port = processes.free_port()
    env = _without_database(
        blob_dir, PRIVACY_DATA_DIR=str(data), PRIVACY_GRPC_ADDR=f"127.0.0.1:{port}"
    )
    log = tmp_path / "serve.log"
    server = await processes.start(["serve"], env, log)
    try:
        await processes.wait_serving(port, timeout=90)  # initdb on the first start
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        ran = await processes.run_apart(["credentials", "list"], env, cwd=elsewhere)
        assert (ran.code, ran.err) == (EXIT_OK, ""), ran
        rows = [line.split() for line in ran.out.splitlines()]
        assert rows[0][:2] == ["name", "state"], ran.out
        assert rows[1][:2] == ["dev", "active"], ran.out
        server.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(server.wait(), 30) == 0
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()
    lines = log.read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line one JSON record
    initdb = [r for r in records if r["logger"] == "pgserver" and "initdb" in r["msg"]]
    assert initdb, lines
    assert all("\n" not in r["msg"] for r in records)
    done = next(r for r in initdb if r["msg"].startswith("Successful"))
    assert "Success. You can now start the database server using:" in done["output"]
