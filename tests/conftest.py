"""Fixtures over a real PostgreSQL, its workers, and a real gRPC server on loopback.

A template database is migrated once per session; each test gets its own
database made from it (CREATE DATABASE … TEMPLATE) and dropped after.
DATABASE_URL points at an external server; unset, an embedded one is started.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from clients.client import PrivacyClient
from server.app import App
from server.blobs import BlobStore, LocalBlobStore
from server.config import Settings
from server.database import embedded_url, migrate
from server.keyring import Keyring
from server.s3_blobs import S3BlobStore
from server.tenant_keys import open_keyring
from tests.helpers import s3
from tests.helpers.database import with_database
from tests.helpers.workers import JobRunner, job_runner


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An admin URL of the PostgreSQL server the tests use."""
    external = os.environ.get("DATABASE_URL")
    if external:
        return external
    return embedded_url(tmp_path_factory.mktemp("pg"))


@pytest.fixture(scope="session")
async def template_db(server_url: str) -> AsyncIterator[str]:
    name = f"privacy_template_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        conn = await asyncpg.connect(with_database(server_url, name))
        try:
            await migrate(conn)
        finally:
            await conn.close()
        yield name
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def db_url(server_url: str, template_db: str) -> AsyncIterator[str]:
    """A fresh, migrated database for one test."""
    name = f"privacy_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
        yield with_database(server_url, name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(db_url)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def other_db(db_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A second session on the test's database: another transaction beside `db`'s
    (an indexer, a writer, a lock holder)."""
    conn = await asyncpg.connect(db_url)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
def blob_dir(tmp_path: Path) -> Path:
    path = tmp_path / "blobs"
    path.mkdir()
    return path


BLOB_BACKENDS = ("local", "s3")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "blob_stores: run the test against each blob store (local and s3)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked blob_stores runs once per store: its `blobs`, `settings` (so its
    App) and the privacyctl processes it starts all use that store."""
    if metafunc.definition.get_closest_marker("blob_stores") and (
        "blob_backend" in metafunc.fixturenames
    ):
        metafunc.parametrize("blob_backend", BLOB_BACKENDS, indirect=True)


@pytest.fixture
def blob_backend(request: pytest.FixtureRequest) -> str:
    """ "local" unless the test is marked blob_stores (then each in turn). "s3" starts
    the S3 server (and sets the AWS variables) for whatever the test builds on it: a
    test run alone must not depend on an earlier test having started it."""
    backend: str = getattr(request, "param", "local")
    if backend == "s3":
        request.getfixturevalue("s3_endpoint")
    return backend


@pytest.fixture
def blobs(blob_backend: str, blob_dir: Path, request: pytest.FixtureRequest) -> Iterator[BlobStore]:
    """The test's blob store: the directory blob_dir, or a versioned bucket of its own
    on the loopback S3 server (PRIVACY_BLOB_URL then names it to the processes the
    test starts, which inherit the environment)."""
    if blob_backend == "local":
        yield LocalBlobStore(blob_dir)
        return
    request.getfixturevalue("s3_endpoint")
    store = s3.new_store()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PRIVACY_BLOB_URL", f"s3://{store.bucket}/{store.prefix}")
        try:
            yield store
        finally:
            store.close()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """An S3 protocol server on loopback (moto's server mode), the AWS variables
    pointing at it meanwhile."""
    with s3.moto_server() as endpoint:
        yield endpoint


@pytest.fixture(params=["local", "s3"])
def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    """Each store in turn: a local directory, then a versioned bucket on the S3 server."""
    if request.param == "local":
        yield LocalBlobStore(tmp_path / "store")
        return
    request.getfixturevalue("s3_endpoint")
    store = s3.new_store()
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def settings(db_url: str, blob_dir: Path, blobs: BlobStore, tmp_path: Path) -> Settings:
    """Settings for an in-process server: any free port, small batches, quick polls."""
    return Settings(
        database_url=db_url,
        data_dir=tmp_path / "data",
        blob_dir=blob_dir,
        blob_url=(
            f"s3://{blobs.bucket}/{blobs.prefix}" if isinstance(blobs, S3BlobStore) else None
        ),
        grpc_addr="127.0.0.1:0",
        metrics_addr="",
        workers=2,
        batch_size=3,  # small, so every job runs several batches
        lease=timedelta(seconds=10),
        poll_interval=timedelta(milliseconds=200),
        grace=timedelta(seconds=5),
        pool_size=6,
        retention_interval=None,  # tests run retention themselves, when they mean to
        suppression_sweep_interval=None,  # and the suppression sweep
        audit_checkpoint_interval=None,  # and take audit checkpoints themselves
    )


@pytest.fixture
async def keyring(db: asyncpg.Connection, settings: Settings) -> Keyring:
    """The keyring a server with `settings` uses on the test's database."""
    return await open_keyring(db, settings.keyring_file)


@pytest.fixture
async def worker(
    settings: Settings, keyring: Keyring, blobs: BlobStore
) -> AsyncIterator[JobRunner]:
    """Jobs over the test database without App or gRPC: `worker.submit` (submission.submit),
    then `worker.lease` / `worker.run_batch`, or `worker.run(job_id)` with worker loops;
    `worker.configured(...)` for other settings, registry or blob store."""
    async with job_runner(settings, keyring, blobs) as runner:
        yield runner


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[App]:
    async with App(settings) as app:
        yield app


@pytest.fixture
async def client(app: App) -> AsyncIterator[PrivacyClient]:
    async with PrivacyClient(f"127.0.0.1:{app.port}", token=app.dev_token) as client:
        yield client


@pytest.fixture
def no_workers(settings: Settings) -> Settings:
    """Settings for a server that accepts jobs but runs none of them."""
    return replace(settings, workers=0)
