"""A database, a blob store and a server of one's own: for tests that compare a whole
world before and after a job (every row, every blob, a pg_dump)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import asyncpg

from atomicrm.privacy.v1 import privacy_pb2 as pb
from clients.client import PrivacyClient
from server.app import App
from server.blobs import BlobStore, LocalBlobStore
from server.config import Settings
from server.s3_blobs import S3BlobStore
from tests.helpers import s3
from tests.helpers.database import with_database


def pg_dump(url: str) -> str:
    binary = shutil.which("pg_dump", path=_pg_bin()) or "pg_dump"
    return subprocess.run(
        [binary, "--no-owner", url], check=True, capture_output=True, text=True
    ).stdout


def _pg_bin() -> str:
    # pgserver ships PostgreSQL 16's pg_dump, which dumps older servers too. Found
    # without importing pgserver (its import warns when nothing else needs it).
    spec = importlib.util.find_spec("pgserver")
    assert spec is not None
    assert spec.submodule_search_locations
    bundled = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    return str(bundled) + os.pathsep + os.environ["PATH"]


class World:
    """One example's database, blob store and server."""

    def __init__(self, server_url: str, template: str, tmp: Path, backend: str = "local") -> None:
        self.name = f"privacy_prop_{uuid.uuid4().hex[:10]}"
        self.url = with_database(server_url, self.name)
        self.server_url, self.template = server_url, template
        self.blob_dir = tmp / self.name
        # "s3": a bucket of its own on the loopback S3 server (the s3_endpoint fixture).
        self.blobs: BlobStore = (
            s3.new_store(prefix=self.name) if backend == "s3" else LocalBlobStore(self.blob_dir)
        )
        self.blob_url = (
            f"s3://{self.blobs.bucket}/{self.blobs.prefix}"
            if isinstance(self.blobs, S3BlobStore)
            else None
        )

    async def __aenter__(self) -> World:
        admin = await asyncpg.connect(self.server_url)
        await admin.execute(f'CREATE DATABASE "{self.name}" TEMPLATE "{self.template}"')
        await admin.close()
        self.conn = await asyncpg.connect(self.url)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.conn.close()
        admin = await asyncpg.connect(self.server_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        await admin.close()
        shutil.rmtree(self.blob_dir, ignore_errors=True)
        if isinstance(self.blobs, S3BlobStore):
            self.blobs.close()

    async def run(
        self, settings_: Settings, call: Callable[[PrivacyClient], Awaitable[pb.Job]]
    ) -> pb.Job:
        app = App(
            replace(
                settings_, database_url=self.url, blob_dir=self.blob_dir, blob_url=self.blob_url
            )
        )
        await app.start()
        try:
            async with PrivacyClient(f"127.0.0.1:{app.port}", token=app.dev_token) as client:
                return await client.wait_job((await call(client)).id)
        finally:
            await app.stop()
