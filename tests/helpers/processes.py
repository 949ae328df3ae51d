"""Run privacyctl as real processes for tests."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.helpers.waiting import eventually

if TYPE_CHECKING:
    from server.app import App

PRIVACYCTL = str(Path(sys.executable).parent / "privacyctl")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def env(db_url: str, blob_dir: Path, **extra: str) -> dict[str, str]:
    base = {
        **os.environ,
        "DATABASE_URL": db_url,
        "PRIVACY_BLOB_DIR": str(blob_dir),
        # The first `serve` writes the development token here; privacyctl reads it.
        "PRIVACY_DATA_DIR": str(blob_dir.parent / "privacy-data"),
        "PRIVACY_METRICS_ADDR": "",
        "PRIVACY_POLL_SECONDS": "0.2",
        "PRIVACY_RETENTION_INTERVAL_SECONDS": "off",  # tests run retention when they mean to
        "PRIVACY_AUDIT_CHECKPOINT_SECONDS": "off",  # and take audit checkpoints likewise
    }
    base.update(extra)
    return base


def app_env(app: App, db_url: str, blob_dir: Path) -> dict[str, str]:
    """env() for privacyctl's client commands against an App of the test: its
    development token and its address."""
    return env(
        db_url,
        blob_dir,
        PRIVACY_TOKEN=app.dev_token or "",
        PRIVACY_GRPC_ADDR=f"127.0.0.1:{app.port}",
    )


def dev_token(environment: dict[str, str]) -> str:
    """The development credential's token, written by the first `serve` of the database."""
    return (Path(environment["PRIVACY_DATA_DIR"]) / "dev-token").read_text().strip()


async def start(
    args: list[str], environment: dict[str, str], log: Path
) -> asyncio.subprocess.Process:
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            PRIVACYCTL, *args, env=environment, stdout=out, stderr=out
        )


async def wait_serving(port: int, timeout: float = 30) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)

        async def serving() -> bool:
            try:
                answer = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
            except grpc.aio.AioRpcError:
                return False
            return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)

        await eventually(serving, timeout=timeout, what=f"the server on port {port} serving")


async def run(
    args: list[str], environment: dict[str, str], timeout: float = 60, *, columns: int = 200
) -> tuple[int, str]:
    """Run privacyctl to its end, in a terminal `columns` wide; return its exit code and
    what it printed (stdout and stderr)."""
    process = await asyncio.create_subprocess_exec(
        PRIVACYCTL,
        *args,
        env={**environment, "COLUMNS": str(columns)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, out.decode()


@dataclass(frozen=True)
class Ran:
    """A privacyctl process that ran to its end: its exit code, stdout and stderr apart."""

    code: int
    out: str
    err: str


async def run_apart(
    args: list[str], environment: dict[str, str], timeout: float = 60, cwd: Path | None = None
) -> Ran:
    """Run privacyctl to its end (in `cwd`, if given), keeping stdout and stderr apart:
    for what must go to one and not the other."""
    process = await asyncio.create_subprocess_exec(
        PRIVACYCTL,
        *args,
        env={**environment, "COLUMNS": "200"},
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()  # a process that should have ended must not outlive the test
        await process.wait()
        raise
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())


async def start_apart(
    args: list[str], environment: dict[str, str], out: Path, err: Path
) -> asyncio.subprocess.Process:
    """Start privacyctl with its stdout and stderr in files of their own, to be read
    while it runs."""
    with out.open("ab") as stdout, err.open("ab") as stderr:
        return await asyncio.create_subprocess_exec(
            PRIVACYCTL, *args, env={**environment, "COLUMNS": "200"}, stdout=stdout, stderr=stderr
        )
