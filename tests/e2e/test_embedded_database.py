"""The embedded PostgreSQL as real processes: a server killed with SIGKILL leaves it to
the next one, which stops it when it stops cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from tests.helpers import processes
from tests.helpers.waiting import eventually


def _postmaster_pid(pgdata: Path) -> int:
    """The postmaster's pid, from the first line of postmaster.pid."""
    return int((pgdata / "postmaster.pid").read_text().splitlines()[0])


def _running(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def test_a_server_killed_with_sigkill_hands_the_embedded_database_to_the_next(
    blob_dir: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    pgdata = data / "pg"
    log = tmp_path / "serve.log"

    def environment(port: int) -> dict[str, str]:
        return processes.env(
            "",  # no DATABASE_URL: the embedded server under PRIVACY_DATA_DIR
            blob_dir,
            PRIVACY_DATA_DIR=str(data),
            PRIVACY_GRPC_ADDR=f"127.0.0.1:{port}",
            PRIVACY_WORKERS="1",
        )

    postmaster: int | None = None
    first_port, second_port = processes.free_port(), processes.free_port()
    first = await processes.start(["serve"], environment(first_port), log)
    second = None
    try:
        await processes.wait_serving(first_port, timeout=90)  # initdb on the first start
        postmaster = _postmaster_pid(pgdata)
        first.kill()  # SIGKILL: no atexit, nothing cleaned up
        await asyncio.wait_for(first.wait(), 20)
        assert _running(postmaster)  # the database outlives it, as it should

        second = await processes.start(["serve"], environment(second_port), log)
        await processes.wait_serving(second_port, timeout=60)
        assert _postmaster_pid(pgdata) == postmaster  # joined, not started anew
        second.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(second.wait(), 30) == 0

        # The last user stopped cleanly: the database must stop with it.
        async def stopped() -> bool:
            return not _running(postmaster)

        await eventually(stopped, timeout=30, what="the embedded PostgreSQL stopping")
        assert not _running(postmaster), "the embedded PostgreSQL is still running"
        assert not (pgdata / "postmaster.pid").exists()
    finally:
        for process in (first, second):
            if process is not None and process.returncode is None:
                process.kill()
                await process.wait()
        if postmaster is not None and _running(postmaster):
            os.kill(postmaster, signal.SIGINT)  # fast shutdown: leave no server behind
