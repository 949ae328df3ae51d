"""The process: database, gRPC server, health, reflection, workers, and their shutdown."""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
import socket
import sys
from datetime import timedelta
from wsgiref.simple_server import WSGIServer

import asyncpg
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from anonymizers.registry import Registry, default_registry
from atomicrm.privacy.v1 import privacy_pb2_grpc
from server import (
    checkpoints,
    credentials,
    metrics,
    ratelimit,
    retention,
    suppression_sweep,
    tenant_keys,
    text_indexer,
)
from server.auth import Authenticator, AuthInterceptor
from server.blobs import BlobStore
from server.config import ConfigError, Settings
from server.database import bounded_connection, connect_and_migrate, create_pool, resolve_url
from server.events import JobEvents
from server.interceptors import SERVICE as SERVICE_NAME
from server.interceptors import ErrorInterceptor, RequestInterceptor
from server.keyring import Keyring
from server.ratelimit import RateLimit
from server.retention import RetentionPolicy
from server.s3_blobs import open_blob_store
from server.service import AuditCheckpoints, PrivacyService
from server.tls import server_credentials
from server.worker import Worker, worker_name
from server.worker_config import RetryPolicy, WorkerConfig

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 1024 * 1024


class App:
    """One process of the service: a gRPC server and/or workers over one pool."""

    def __init__(
        self,
        settings: Settings,
        *,
        grpc_server: bool = True,
        registry: Registry | None = None,
        blobs: BlobStore | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry or default_registry()
        self.blobs = blobs or open_blob_store(settings)
        self._want_grpc = grpc_server
        self.events = JobEvents()
        self.pool: asyncpg.Pool | None = None
        self._keyring: Keyring | None = None
        self.server: grpc.aio.Server | None = None
        self.health = HealthServicer()
        self.port = 0
        self._stop_workers = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []
        self._metrics_server: WSGIServer | None = None
        self._side_tasks: list[asyncio.Task[None]] = []
        self.metrics_port = 0
        # The development credential's token, when this data dir has one.
        self.dev_token: str | None = None

    @property
    def keyring(self) -> Keyring:
        """The keyring that wraps tenant keys, checked against the database at start."""
        assert self._keyring is not None, "start() first"
        return self._keyring

    async def __aenter__(self) -> App:
        try:
            await self.start()
        except BaseException:
            # A start that fails half way (the address in use, say) leaves nothing
            # open: the pool, the LISTEN connection, workers already started.
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Migrate, open the pool, start serving and working."""
        every = self.settings.audit_checkpoint_interval
        # The signing key first: a key that cannot be read stops the start before
        # anything runs.
        signer = (
            checkpoints.load_signer(self.settings.audit_signing_key)
            if self._want_grpc and every
            else None
        )
        url = resolve_url(self.settings.database_url, self.settings.data_dir)
        applied = await connect_and_migrate(url)
        if applied:
            log.info("migrations applied", extra={"migrations": applied})
        self.pool = await create_pool(
            url, max_size=self.settings.pool_size, connect_timeout=self.settings.db_timeout
        )
        async with self.pool.acquire() as conn:
            self._keyring = await tenant_keys.open_keyring(conn, self.settings.keyring_file)
        await self.events.start(url)
        if self._want_grpc and self.settings.dev_credential:
            await self._dev_credential(self.pool)
        if self._want_grpc:
            await self._start_grpc(self.pool)
        for i in range(self.settings.workers):
            worker = self.make_worker(worker_name(i))
            self._workers.append(asyncio.create_task(worker.run(self._stop_workers)))
        if self.settings.metrics_addr:
            self._start_metrics(self.pool)
        if self.settings.workers and self.settings.retention_interval:
            self._start_retention(self.pool, self.settings.retention_interval)
        if self.settings.workers:
            indexer = text_indexer.run_forever(self.pool, self.keyring, self._stop_workers)
            self._side_tasks.append(asyncio.create_task(indexer))
        if self.settings.workers and self.settings.suppression_sweep_interval:
            self._start_suppression_sweep(self.pool, self.settings.suppression_sweep_interval)
        if signer is not None and every:
            self._start_checkpoints(self.pool, signer, every)
        if self._want_grpc and self._rate_limit.enabled:
            forget = ratelimit.forget_full_forever(self.pool, self._rate_limit, self._stop_workers)
            self._side_tasks.append(asyncio.create_task(forget))

    @property
    def _rate_limit(self) -> RateLimit:
        return RateLimit(self.settings.rate_limit_per_minute, self.settings.rate_limit_burst)

    async def _dev_credential(self, pool: asyncpg.Pool) -> None:
        """Make the development credential on a database with none, and show it once;
        otherwise pick up the token an earlier start wrote for this data dir."""
        path = self.settings.dev_token_file
        async with pool.acquire() as conn:
            token = await credentials.create_dev_credential(conn)
        if token is None:
            self.dev_token = path.read_text().strip() if path.is_file() else None
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(token + "\n")
        self.dev_token = token
        # The log names the file, never the token (logs travel); a person at the
        # terminal of `make run` sees the token itself.
        log.warning(
            "development credential created",
            extra={"credential": credentials.DEV_CREDENTIAL, "token_file": str(path)},
        )
        if sys.stdout.isatty():
            print(
                f"\nDevelopment credential {credentials.DEV_CREDENTIAL!r} (every scope, every "
                f"tenant), token saved in {path}:\n  {token}\nprivacyctl reads that file. "
                "Set PRIVACY_DEV_CREDENTIAL=off where callers get their own credentials.\n",
                flush=True,
            )

    def _start_retention(self, pool: asyncpg.Pool, every: timedelta) -> None:
        """Processes with workers run the retention rules; a lock lets one at a time."""
        defaults = RetentionPolicy.defaults_of(self.settings)
        rules = retention.run_forever(
            pool,
            self.registry,
            every=every,
            deadline=self.settings.deadline,
            defaults=defaults,
            default_region=self.settings.default_phone_region,
            keyring=self.keyring,
            note_retention=self.settings.note_retention,
            stop=self._stop_workers,
        )
        self._side_tasks.append(asyncio.create_task(rules))

    def _start_suppression_sweep(self, pool: asyncpg.Pool, every: timedelta) -> None:
        """Processes with workers erase the late arrivals of suppressed identifiers; a
        lock lets one at a time."""
        sweep = suppression_sweep.run_forever(
            pool,
            self.registry,
            every=every,
            keyring=self.keyring,
            deadline=self.settings.deadline,
            default_region=self.settings.default_phone_region,
            stop=self._stop_workers,
        )
        self._side_tasks.append(asyncio.create_task(sweep))

    def _start_checkpoints(
        self, pool: asyncpg.Pool, signer: checkpoints.Signer, every: timedelta
    ) -> None:
        """Serving processes sign the audit chains' heads; a lock lets one at a time.
        Only they: the file they append to is the one their VerifyAuditLog reads."""
        runner = checkpoints.run_forever(
            pool,
            signer,
            checkpoints.CheckpointLog(self.settings.audit_checkpoint_file),
            every=every,
            stop=self._stop_workers,
        )
        self._side_tasks.append(asyncio.create_task(runner))

    def _start_metrics(self, pool: asyncpg.Pool) -> None:
        try:
            self._metrics_server = metrics.serve_metrics(self.settings.metrics_addr)
        except OSError:
            # Another process of the service on this host serves the address already;
            # the backlog figures are the same from any process.
            log.warning("metrics address in use", extra={"addr": self.settings.metrics_addr})
            return
        self.metrics_port = self._metrics_server.server_port
        refresh = metrics.refresh_forever(pool, self.settings.metrics_refresh, self._stop_workers)
        self._side_tasks.append(asyncio.create_task(refresh))

    def make_worker(self, name: str) -> Worker:
        """A worker over this process's pool, registry and blob store."""
        assert self.pool is not None, "start() first"
        config = WorkerConfig(
            batch_size=self.settings.batch_size,
            lease=self.settings.lease,
            poll_interval=self.settings.poll_interval,
            time_slice=self.settings.time_slice,
            retry=RetryPolicy(
                max_attempts=self.settings.max_attempts, base_delay=self.settings.retry_base
            ),
            default_region=self.settings.default_phone_region,
            keyring=self.keyring,
        )
        return Worker(name, self.pool, self.registry, self.blobs, self.events, config=config)

    async def _start_grpc(self, pool: asyncpg.Pool) -> None:
        authenticator = Authenticator(
            lambda: bounded_connection(pool, self.settings.db_timeout), self.settings.auth_cache
        )
        server = grpc.aio.server(
            # Errors outermost: refusals by AuthInterceptor become precise statuses;
            # requests that do not parse are refused innermost, after authentication.
            interceptors=[ErrorInterceptor(), AuthInterceptor(authenticator), RequestInterceptor()],
            options=[
                # Every request is small (ids, a subject, a reason): refuse big ones
                # before they are parsed, with RESOURCE_EXHAUSTED from gRPC itself.
                ("grpc.max_receive_message_length", MAX_REQUEST_BYTES),
                # gRPC sets SO_REUSEPORT by default: a second server on the same
                # address would start and share the port with the first, each
                # getting some of the calls. Refuse to start instead.
                ("grpc.so_reuseport", 0),
            ],
        )
        service = PrivacyService(
            pool,
            self.registry,
            self.events,
            self.settings.deadline,
            self.blobs,
            keyring=self.keyring,
            acquire_timeout=self.settings.db_timeout,
            rate_limit=self._rate_limit,
            default_region=self.settings.default_phone_region,
            audit_checkpoints=AuditCheckpoints(
                checkpoints.CheckpointLog(self.settings.audit_checkpoint_file),
                self.settings.audit_signing_key,
            ),
        )
        privacy_pb2_grpc.add_PrivacyServiceServicer_to_server(service, server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        reflection.enable_server_reflection(
            [
                SERVICE_NAME,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ],
            server,
        )
        self.port = self._listen(server)
        await server.start()
        for name in ("", SERVICE_NAME):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        self.server = server
        log.info("serving", extra={"port": self.port})

    def _listen(self, server: grpc.aio.Server) -> int:
        """Bind the gRPC address; the port bound, else a ConfigError naming it."""
        addr = self.settings.grpc_addr
        try:
            if self.settings.tls_cert is not None and self.settings.tls_key is not None:
                credentials = server_credentials(
                    self.settings.tls_cert, self.settings.tls_key, self.settings.tls_client_ca
                )
                port = server.add_secure_port(addr, credentials)
            else:
                port = server.add_insecure_port(addr)
        except RuntimeError:  # grpc's "Failed to bind to address …"
            port = 0
        if port == 0:
            raise ConfigError(f"cannot listen on {addr!r} (PRIVACY_GRPC_ADDR): {_why_not(addr)}")
        return port

    async def wait(self, stop: asyncio.Event) -> None:
        """Return when stop is set or a worker died (the process must not limp on)."""
        stop_task = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait([stop_task, *self._workers], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop_task.cancel()
        for task in self._workers:
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.error("a worker died", extra={"error": type(task.exception()).__name__})

    async def stop(self) -> None:
        """Shut down in order: health, RPCs, workers, pool."""
        grace = self.settings.grace.total_seconds()
        await self.health.enter_graceful_shutdown()  # NOT_SERVING: balancers stop sending
        self._stop_workers.set()
        if self.server is not None:
            await self.server.stop(grace)  # in-flight RPCs finish within the grace
        if self._workers:
            # Workers finish their in-flight batch; past the grace they are cancelled
            # and the batch's transaction rolls back, to be redone from its checkpoint.
            _, late = await asyncio.wait(self._workers, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*self._workers, return_exceptions=True)
        await asyncio.gather(*self._side_tasks, return_exceptions=True)
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
            self._metrics_server.server_close()
        await self.events.close()
        if self.pool is not None:
            await self.pool.close()


def _why_not(addr: str) -> str:
    """Why gRPC could not bind `addr`, found by binding it ourselves: gRPC only says
    that it failed (and logs the reason in its own format)."""
    host, _, port = addr.rpartition(":")
    if not host or not port.isdigit():
        return "not host:port (e.g. 127.0.0.1:50051)"
    try:
        family, kind, _, _, where = socket.getaddrinfo(
            host.strip("[]"), int(port), type=socket.SOCK_STREAM
        )[0]
        with socket.socket(family, kind) as probe:
            probe.bind(where)
        return "gRPC could not bind it"
    except OSError as error:
        reason = error.strerror or type(error).__name__
        if error.errno == errno.EADDRINUSE:
            reason += " (another privacyctl serve?)"
        return reason


async def run(settings: Settings, *, grpc_server: bool = True) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with App(settings, grpc_server=grpc_server) as app:
        await app.wait(stop)
