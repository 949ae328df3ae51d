"""PostgreSQL: the embedded server when DATABASE_URL is unset, the pool, migrations."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import asyncpg

from db.connection import Connection
from server.config import DEFAULT_DB_TIMEOUT, ConfigError
from server.errors import DatabaseUnavailable, NoDatabase
from server.queries import Q

log = logging.getLogger(__name__)

# Any constant works; it only has to be the same in every process.
_MIGRATION_LOCK = 7_300_117

# Held for the life of the process so the embedded server is not stopped under us.
_embedded: dict[Path, Any] = {}


def embedded_url(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL under data_dir and return its URL."""
    with warnings.catch_warnings():
        # pgserver asks platformdirs for a runtime dir; without XDG_RUNTIME_DIR (CI,
        # containers) that warns and falls back to /tmp, which is fine here.
        warnings.simplefilter("ignore")
        from pgserver.postgres_server import get_server  # only when DATABASE_URL is unset

    pgdata = (data_dir / "pg").resolve()
    server = _embedded.get(pgdata)
    if server is None:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        _forget_dead_users(pgdata)
        # 'stop': the server stops when the last process using it exits.
        server = get_server(pgdata, cleanup_mode="stop")
        _embedded[pgdata] = server
    return str(server.get_uri())


def _forget_dead_users(pgdata: Path) -> None:
    """Take the processes that died without exiting off pgserver's list of users.

    pgserver counts the processes using the server in <pgdata>/.handle_pids.json and
    stops it when the last one exits (atexit). A process killed with SIGKILL never
    takes its pid off, so the server would never be stopped again: the next process
    takes it over by dropping such pids before it adds its own."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # as in embedded_url
        from pgserver.postgres_server import PostgresServer
        from pgserver.utils import DiskList

    users = DiskList(pgdata / ".handle_pids.json")
    # pgserver's own inter-process lock, the one it holds while it reads and writes
    # the list, so no process starting or stopping beside us is lost.
    with PostgresServer._lock:
        try:
            pids = [int(pid) for pid in users.get()]
        except ValueError:
            # Half written by a process killed mid-write (json.JSONDecodeError is a
            # ValueError): pgserver itself would fail on it. Start the list anew.
            pids = [-1]
        alive = [pid for pid in pids if _alive(pid)]
        if alive != pids:
            users.put(alive)
            log.warning(
                "embedded database: took over from processes that died without stopping it",
                extra={"pids": [pid for pid in pids if pid not in alive]},
            )


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: it exists
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (not Linux): existing is all we can tell
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def resolve_url(database_url: str | None, data_dir: Path, *, create: bool = True) -> str:
    """Return the URL to use: DATABASE_URL if given, else the embedded server's.

    `create=False` for every command but serve and worker: one run from another
    directory would otherwise start a second, empty database there (PRIVACY_DATA_DIR
    is relative) and work on that. Without one under data_dir it raises NoDatabase."""
    if database_url:
        return database_url
    pgdata = (data_dir / "pg").resolve()
    if not create and not (pgdata / "PG_VERSION").is_file():
        raise NoDatabase(
            f"no database: DATABASE_URL is unset and there is no embedded database in "
            f"{pgdata} (PRIVACY_DATA_DIR={data_dir}, read from the current directory "
            "when relative). Set DATABASE_URL to the service's PostgreSQL, or "
            "PRIVACY_DATA_DIR to the directory `privacyctl serve` runs with; only "
            "`privacyctl serve` and `privacyctl worker` create the embedded database."
        )
    return embedded_url(data_dir)


async def create_pool(
    url: str, *, max_size: int, connect_timeout: timedelta = DEFAULT_DB_TIMEOUT
) -> asyncpg.Pool:
    """Open a connection pool, wrapping connection failures in our own error."""
    try:
        pool = await asyncpg.create_pool(
            url,
            min_size=1,
            max_size=max_size,
            # Bounds each new connection, so a pool replacing dead connections
            # while the database is away fails fast instead of hanging.
            timeout=connect_timeout.total_seconds(),
            # Every timestamp leaves the database in UTC, whatever the server's zone.
            server_settings={"timezone": "UTC", "application_name": "atomicrm-privacy"},
        )
    except (OSError, asyncpg.PostgresError) as exc:
        raise DatabaseUnavailable() from exc
    assert pool is not None
    return pool


@asynccontextmanager
async def bounded_connection(pool: asyncpg.Pool, timeout: timedelta) -> AsyncIterator[Connection]:
    """A pooled connection within the timeout, else DatabaseUnavailable: a burst of
    callers or a database that is away makes RPCs fail fast, never queue forever."""
    seconds = timeout.total_seconds()
    try:
        conn = await pool.acquire(timeout=seconds)
    except TimeoutError as exc:
        raise DatabaseUnavailable(
            f"no database connection within {seconds:g}s (service busy or database "
            "unreachable); retry later"
        ) from exc
    try:
        yield conn
    finally:
        await pool.release(conn)


async def wait_durable(conn: Connection) -> None:
    """Return once every commit this connection made is flushed to disk (and sent to
    synchronous standbys, as the database's synchronous_commit says).

    For transactions that set synchronous_commit off for themselves (submission.submit's
    first statement does): a statement that takes a transaction id commits with
    the session's synchronous_commit, and its commit flushes the WAL up to its own
    record, so up to every commit before it. While one backend waits for an fsync,
    others' flushes join it (PostgreSQL's group commit)."""
    await conn.execute(Q["wait_durable"])


def shipped_migrations() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every migration, in order."""
    files = resources.files("server").joinpath("migrations")
    found = []
    for entry in files.iterdir():
        name = entry.name
        if name.endswith(".sql"):
            found.append((int(name.split("_", 1)[0]), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


async def migrate(conn: Connection) -> list[str]:
    """Apply the migrations not applied yet, in order; safe to run any number of times."""
    applied_now: list[str] = []
    async with conn.transaction():
        # Two processes starting together must not both apply the same file.
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
        await conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version     integer PRIMARY KEY,
                name        text NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for version, name, sql in shipped_migrations():
            if version in done:
                continue
            log.info("applying migration", extra={"migration": name})
            await conn.execute(sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name
            )
            applied_now.append(name)
    return applied_now


async def connect_and_migrate(url: str) -> list[str]:
    """Open one connection, migrate, close. The first connection of every process: a
    URL that is no PostgreSQL URL is a ConfigError here."""
    try:
        conn = await asyncpg.connect(url)
    except ValueError as exc:  # asyncpg.ClientConfigurationError, or its int() of a port
        # asyncpg's own text names what is wrong, never the URL (nor its password);
        # another ValueError's might quote a part of it: its type only.
        why = exc if isinstance(exc, asyncpg.ClientConfigurationError) else type(exc).__name__
        raise ConfigError(f"DATABASE_URL is not a PostgreSQL URL ({why})") from exc
    except (OSError, asyncpg.PostgresError) as exc:
        raise DatabaseUnavailable() from exc
    try:
        return await migrate(conn)
    finally:
        await conn.close()
