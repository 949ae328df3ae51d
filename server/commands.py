"""What `privacyctl serve|worker|…` run: the one entry into server/ from clients/."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from server import app, logs
from server.config import ConfigError, Settings
from server.database import connect_and_migrate, resolve_url
from server.errors import DatabaseUnavailable, NoDatabase, PrivacyError

if TYPE_CHECKING:
    import asyncpg

    from server.credentials import Credential
    from server.retention import RetentionPolicy

log = logging.getLogger(__name__)

# privacyctl's exit statuses (console/exit_codes.py holds the table; the console is
# above this module, so the numbers are repeated here, and a unit test keeps them equal).
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 64  # EX_USAGE: a file named on the command line cannot be used
EXIT_NO_DATABASE = 69  # EX_UNAVAILABLE: no database found, or it cannot be reached
EXIT_CONFIG = 78  # EX_CONFIG


@asynccontextmanager
async def _connected(
    settings: Settings, *, migrate: bool = True
) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the service's database (the embedded one when DATABASE_URL is
    unset, never made here: NoDatabase), migrated first unless `migrate` is False,
    closed after."""
    import asyncpg

    url = resolve_url(settings.database_url, settings.data_dir, create=False)
    if migrate:
        await connect_and_migrate(url)
    try:
        conn = await asyncpg.connect(url)
    except (OSError, asyncpg.PostgresError) as exc:
        raise DatabaseUnavailable() from exc
    try:
        yield conn
    finally:
        await conn.close()


def _fail(command: str, message: str) -> None:
    """An error, on stderr: stdout carries a command's results only."""
    print(f"privacyctl{' ' if command else ''}{command}: {message}", file=sys.stderr, flush=True)


def _where(settings: Settings) -> str:
    """The database a command tried, without the URL's password."""
    if not settings.database_url:
        return f"the embedded database in {(settings.data_dir / 'pg').resolve()}"
    url = urlsplit(settings.database_url)
    return f"DATABASE_URL (host {url.hostname or 'local'}, database {url.path.strip('/') or '-'})"


def run_database_command(command: str, settings: Settings, go: Callable[[], Awaitable[int]]) -> int:
    """Run a command on the database and turn what it raises into a message and an
    exit status: no traceback for a missing database or a refused change."""
    import asyncpg

    async def main() -> int:
        return await go()

    try:
        return asyncio.run(main())
    except ConfigError as error:
        _fail(command, str(error))
        return EXIT_CONFIG
    except NoDatabase as error:
        _fail(command, error.message)
        return EXIT_NO_DATABASE
    except DatabaseUnavailable:
        _fail(command, f"cannot reach {_where(settings)}; is PostgreSQL running?")
        return EXIT_NO_DATABASE
    except asyncpg.UndefinedTableError:
        _fail(
            command,
            f"{_where(settings)} holds no privacy service tables: is it the service's "
            "database? (`privacyctl serve` creates them)",
        )
        return EXIT_NO_DATABASE
    except PrivacyError as error:
        _fail(command, error.message)
        return EXIT_FAILED


def _settings() -> Settings | None:
    try:
        return Settings.from_env()
    except ConfigError as error:
        _fail("", str(error))
        return None


def serve() -> int:
    """Run the gRPC server and its workers until SIGTERM/SIGINT."""
    return _run(grpc_server=True)


def worker() -> int:
    """Run workers only, until SIGTERM/SIGINT."""
    return _run(grpc_server=False)


def _run(*, grpc_server: bool) -> int:
    """serve and worker: the only commands that may create the embedded database."""
    settings = _settings()
    if settings is None:
        return EXIT_CONFIG
    logs.setup(settings.log_level)
    try:
        loop_factory = _loop_factory(settings)
    except ConfigError as error:
        _fail("", str(error))
        return EXIT_CONFIG
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        try:
            runner.run(app.run(settings, grpc_server=grpc_server))
        except ConfigError as error:  # found at start: the keyring, the gRPC address
            _fail("", str(error))
            return EXIT_CONFIG
        except DatabaseUnavailable:
            _fail("", f"cannot reach {_where(settings)}; is PostgreSQL running?")
            return EXIT_NO_DATABASE
        except PrivacyError as error:  # e.g. an audit signing key that cannot be read
            _fail("", error.message)
            return EXIT_FAILED
    return EXIT_OK


def _loop_factory(settings: Settings) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop (docs/performance.md: submissions), unless
    PRIVACY_EVENT_LOOP=asyncio asks for the standard one; None: the standard one."""
    choice = settings.event_loop
    if choice == "asyncio":
        return None
    if choice != "uvloop":
        raise ConfigError(f"PRIVACY_EVENT_LOOP must be uvloop or asyncio, not {choice!r}")
    import uvloop

    return uvloop.new_event_loop


def credentials(
    action: str,
    name: str | None,
    scopes: Sequence[str],
    tenants: Sequence[str],
    *,
    show: Callable[[Sequence[Credential]], None],
) -> int:
    """Create (printing the token once), list (printed by `show`) or revoke callers'
    credentials."""
    from server import credentials as store

    settings = _settings()
    if settings is None:
        return EXIT_CONFIG

    async def go() -> int:
        async with _connected(settings) as conn:
            if action == "create":
                assert name is not None
                token = await store.create(conn, name, store.parse_scopes(scopes), tenants)
                print(f"credential {name!r} created; its token (shown only now):\n{token}")
            elif action == "revoke":
                assert name is not None
                await store.revoke(conn, name)
                print(f"credential {name!r} revoked")
            else:
                show(await store.list_credentials(conn))
        return EXIT_OK

    return run_database_command("credentials", settings, go)


def audit_verify(
    tenant_id: str, checkpoint_file: str | None = None, public_key_file: str | None = None
) -> int:
    """Check a tenant's audit chain, against its signed checkpoints too, and say where
    it breaks."""
    from server import checkpoints
    from server.tenancy import require_known_tenant

    settings = _settings()
    if settings is None:
        return EXIT_CONFIG
    for given in (checkpoint_file, public_key_file):
        # Named on the command line, a file that is not there is a typo, not "no
        # checkpoint taken yet" (what a missing default file means).
        if given is not None and not Path(given).is_file():
            _fail("audit verify", f"no such file: {given}")
            return EXIT_USAGE

    async def go() -> int:
        # Read only: a database without the service's tables is not this one's.
        async with _connected(settings, migrate=False) as conn:
            await require_known_tenant(conn, tenant_id)  # NotFound: not "intact, 0 entries"
            verdict = await checkpoints.verify(
                conn,
                tenant_id,
                checkpoints.CheckpointLog(
                    Path(checkpoint_file) if checkpoint_file else settings.audit_checkpoint_file
                ),
                settings.audit_signing_key,
                Path(public_key_file) if public_key_file else None,
            )
        anchored = (
            f", up to entry {verdict.checkpoint_seq} vouched for by a signed checkpoint"
            if verdict.checkpoint_seq
            else ", no signed checkpoint"
        )
        if verdict.intact:
            print(f"audit log of {tenant_id!r}: intact, {verdict.entries} entries{anchored}")
            return EXIT_OK
        where = f" at entry {verdict.first_bad_seq}" if verdict.first_bad_seq else ""
        print(f"audit log of {tenant_id!r}: BROKEN{where}: {verdict.problem}")
        return EXIT_FAILED

    return run_database_command("audit verify", settings, go)


def audit_checkpoint(tenant_id: str | None) -> int:
    """Sign the audit chains' heads now (every tenant's, or one) and append them to
    the checkpoint file."""
    from server import checkpoints

    settings = _settings()
    if settings is None:
        return EXIT_CONFIG

    async def go() -> int:
        log_file = checkpoints.CheckpointLog(settings.audit_checkpoint_file)
        async with _connected(settings) as conn:
            # After connecting: no key is made beside a database that is not there.
            signer = checkpoints.load_signer(settings.audit_signing_key)
            taken = await checkpoints.take(conn, signer, log_file, tenant_id=tenant_id) or []
        for c in taken:
            print(f"checkpoint of {c.tenant_id!r}: entry {c.seq}, hash {c.hash}")
        print(
            f"{len(taken)} checkpoint(s) appended to {log_file.path}, signed with key "
            f"{signer.key_id} (public key: "
            f"{checkpoints.public_key_file(settings.audit_signing_key)})"
        )
        return EXIT_OK

    return run_database_command("audit checkpoint", settings, go)


def audit_public_key() -> int:
    """Print the public key that checks the checkpoints' signatures (making the key
    pair on first use)."""
    from server import checkpoints

    settings = _settings()
    if settings is None:
        return EXIT_CONFIG
    try:
        signer = checkpoints.load_signer(settings.audit_signing_key)
    except PrivacyError as error:
        _fail("audit public-key", error.message)
        return EXIT_FAILED
    beside = checkpoints.public_key_file(settings.audit_signing_key)
    print(f"# key id {signer.key_id}, also in {beside}")
    print(checkpoints.public_key_pem(signer.public_key), end="")
    return EXIT_OK


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def retention(
    action: str,
    tenant_id: str | None,
    activity: str | None,
    closed: str | None,
    *,
    show: Callable[[str, RetentionPolicy], None],
) -> int:
    """Show (printed by `show`) or set a tenant's retention rules, or run every tenant's
    rules once."""
    import asyncpg

    from anonymizers.registry import default_registry
    from server import retention as rules
    from server import tenant_keys

    settings = _settings()
    if settings is None:
        return EXIT_CONFIG
    defaults = rules.RetentionPolicy.defaults_of(settings)

    def described(p: rules.RetentionPolicy) -> str:
        activity_rule = _plural(p.activity_months, "month") if p.activity_months else "off"
        closed_rule = (
            _plural(p.closed_account_days, "day") if p.closed_account_days is not None else "off"
        )
        return (
            f"anonymize activity older than: {activity_rule}; "
            f"erase accounts closed for: {closed_rule}"
        )

    async def go() -> int:
        async with _connected(settings) as conn:
            if action == "run":
                submitted = await rules.run(
                    conn,
                    default_registry(),
                    defaults=defaults,
                    deadline=settings.deadline,
                    keyring=await tenant_keys.open_keyring(conn, settings.keyring_file),
                    default_region=settings.default_phone_region,
                    note_retention=settings.note_retention,
                )
                for job in submitted:
                    print(f"job {job.id} {job.kind.value} {job.tenant_id}: {job.state.value}")
                print(f"retention run: {len(submitted)} jobs submitted")
                return EXIT_OK
            assert tenant_id is not None
            current = await rules.policy(conn, tenant_id, defaults)
            if action == "show":
                show(tenant_id, current)
                return EXIT_OK
            if action == "set":
                current = await rules.set_policy(
                    conn,
                    tenant_id,
                    rules.RetentionPolicy(
                        _rule(activity, current.activity_months),
                        _rule(closed, current.closed_account_days),
                    ),
                    actor=_operator(settings),
                )
            print(f"retention of {tenant_id!r}: {described(current)}")
            return EXIT_OK

    async def checked() -> int:
        try:
            return await go()
        except asyncpg.CheckViolationError:
            raise PrivacyError("a value is out of range") from None

    return run_database_command("retention", settings, checked)


def tenant_region(tenant_id: str, region: str | None) -> int:
    """Show a tenant's phone region, or set it (audited)."""
    from server import tenant_settings

    settings = _settings()
    if settings is None:
        return EXIT_CONFIG

    async def go() -> int:
        async with _connected(settings) as conn:
            if region is not None:
                await tenant_settings.set_phone_region(conn, tenant_id, region, _operator(settings))
            current, own = await tenant_settings.phone_region(
                conn, tenant_id, settings.default_phone_region
            )
        origin = "its own" if own else "the default, PRIVACY_DEFAULT_PHONE_REGION"
        print(f"phone numbers of {tenant_id!r} without a country code: {current} ({origin})")
        return EXIT_OK

    return run_database_command("tenant", settings, go)


def _operator(settings: Settings) -> str:
    """The audit log's actor for what privacyctl changes: the operator's login."""
    return f"privacyctl:{settings.os_user}"


def _rule(given: str | None, current: int | None) -> int | None:
    """A rule from the command line: a number, "off", or unchanged when not given."""
    if given is None:
        return current
    return None if given == "off" else int(given)
