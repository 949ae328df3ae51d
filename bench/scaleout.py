"""Figure 7: workers that scale out (issue 19).

The same tenant-wide Anonymize jobs (one per tenant, several identical tenants) run
by 1, 2 and 4 `privacyctl worker` processes, each time on a fresh copy of the same
data (CREATE DATABASE … TEMPLATE, and a copy of the blob files). A serving process
with no workers of its own (PRIVACY_WORKERS=0) takes the jobs over gRPC. Besides
rows/s, where the CPU went: the worker processes, PostgreSQL's processes and the
serving process, read from /proc, against the wall time and the machine's cores.

Anonymize, not Erase: it is the job whose batches spend most in Python (faker
replacements, every name looked for in free text), so it is the one where one
process's interpreter lock would be the limit, and where more processes can help.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from atomicrm.privacy.v1 import privacy_pb2 as pb
from bench import measure
from clients.client import subject

PROCESSES = (1, 2, 4)
_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process, from /proc/<pid>/stat; None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces: count from after its ')'.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def machine_seconds() -> tuple[float, float]:
    """CPU-seconds all cores spent busy, and idle waiting on I/O, from /proc/stat."""
    line = Path("/proc/stat").read_text().splitlines()[0].split()
    ticks = [int(v) for v in line[1:9]]  # user nice system idle iowait irq softirq steal
    return (sum(ticks) - ticks[3] - ticks[4]) / _TICKS, ticks[4] / _TICKS


@dataclass
class CpuMeter:
    """CPU-seconds used by groups of processes between start() and the last sample.

    Processes are sampled every `every` seconds, so that one ending (a PostgreSQL
    backend whose connection closes) counts up to its last sample. A process first
    seen after start() counts from zero."""

    groups: dict[str, Callable[[], set[int]]]
    every: float = 0.25
    _first: dict[int, float] = field(default_factory=dict)
    _last: dict[int, float] = field(default_factory=dict)
    _group_of: dict[int, str] = field(default_factory=dict)
    _machine: tuple[float, float] = (0.0, 0.0)
    _started: float = 0.0

    def _sample(self, *, first: bool) -> None:
        for name, pids in self.groups.items():
            for pid in pids():
                used = cpu_seconds(pid)
                if used is None:
                    continue
                self._group_of.setdefault(pid, name)
                self._first.setdefault(pid, used if first else 0.0)
                self._last[pid] = used

    def start(self) -> None:
        self._machine = machine_seconds()
        self._started = time.perf_counter()
        self._sample(first=True)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._sample(first=False)
            try:
                await asyncio.wait_for(stop.wait(), self.every)
            except TimeoutError:
                pass

    def totals(self) -> dict[str, float]:
        self._sample(first=False)
        used = dict.fromkeys(self.groups, 0.0)
        for pid, last in self._last.items():
            used[self._group_of[pid]] += last - self._first[pid]
        busy, iowait = machine_seconds()
        used["machine"] = busy - self._machine[0]
        used["iowait"] = iowait - self._machine[1]
        # What else ran on the machine meanwhile (other work sharing its cores).
        used["other"] = max(0.0, used["machine"] - sum(used[name] for name in self.groups))
        used["wall"] = time.perf_counter() - self._started
        return used


@dataclass(frozen=True)
class Setup:
    """What every run of the figure starts from."""

    admin: asyncpg.Connection
    admin_url: str
    template: str  # the database every run copies
    blobs: Path  # the blob files every run copies
    tmp: Path
    tenants: tuple[str, ...]
    workers_per_process: int
    batch_size: int


async def _postgres_pids(conn: asyncpg.Connection, database: str) -> set[int]:
    """The run database's backends and PostgreSQL's own background processes."""
    rows = await conn.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = $1 OR datname IS NULL", database
    )
    return {r["pid"] for r in rows} - {conn.get_server_pid()}


async def _started(log: Path, count: int, processes: list[asyncio.subprocess.Process]) -> None:
    """Wait until the workers' logs (JSON lines at INFO) say `count` workers started."""
    for _ in range(600):
        text = await asyncio.to_thread(log.read_text)  # made before the workers start
        if text.count('"worker started"') >= count:
            return
        for process in processes:
            if process.returncode is not None:
                raise RuntimeError(f"a worker process exited {process.returncode}: {text}")
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the workers never started: {text}")


async def one_run(setup: Setup, processes: int, workers: int, rows: int) -> dict[str, Any]:
    """The tenants' Anonymize jobs with `processes` worker processes of `workers`
    workers each, on a fresh copy."""
    name = f"{setup.template}_{processes}x{workers}"
    run_dir = setup.tmp / f"{processes}x{workers}"
    await setup.admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{setup.template}"')
    try:
        await asyncio.to_thread(shutil.copytree, setup.blobs, run_dir / "blobs")
        url = measure.with_database(setup.admin_url, name)
        conn = await asyncpg.connect(url)
        try:
            # The copy's writes are flushed here, so that no run pays for them.
            await conn.execute("CHECKPOINT")
            await asyncio.to_thread(os.sync)
            return await _measured(setup, (processes, workers), rows, url, name, conn, run_dir)
        finally:
            await conn.close()
    finally:
        await setup.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await asyncio.to_thread(shutil.rmtree, run_dir, True)


async def _measured(
    setup: Setup,
    shape: tuple[int, int],
    rows: int,
    url: str,
    name: str,
    conn: asyncpg.Connection,
    run_dir: Path,
) -> dict[str, Any]:
    processes, per_process = shape
    port = measure.free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "PRIVACY_BLOB_DIR": str(run_dir / "blobs"),
        "PRIVACY_DATA_DIR": str(run_dir / "data"),
        # The keyring the seeding indexed the template's texts with (their tokens are
        # keyed with the tenants' keys, which it wraps).
        "PRIVACY_KEYRING": str(setup.tmp / "data" / "keyring"),
        "PRIVACY_GRPC_ADDR": f"127.0.0.1:{port}",
        "PRIVACY_METRICS_ADDR": "",
        "PRIVACY_BATCH_SIZE": str(setup.batch_size),
        "PRIVACY_POLL_SECONDS": "0.2",
        "PRIVACY_LOG_LEVEL": "WARNING",
        "PRIVACY_RATE_LIMIT_PER_MINUTE": "0",
        # Only the jobs are measured: no periodic rules in the worker processes.
        "PRIVACY_RETENTION_INTERVAL_SECONDS": "off",
        "PRIVACY_SUPPRESSION_SWEEP_SECONDS": "off",
    }
    privacyctl = str(Path(sys.executable).parent / "privacyctl")
    (run_dir / "data").mkdir(parents=True, exist_ok=True)
    serve_log = await asyncio.to_thread((run_dir / "serve.log").open, "wb")
    workers_log = await asyncio.to_thread((run_dir / "workers.log").open, "wb")
    spawned: list[asyncio.subprocess.Process] = []
    try:
        server = await asyncio.create_subprocess_exec(
            privacyctl, "serve", env={**env, "PRIVACY_WORKERS": "0"}, stderr=serve_log
        )
        spawned.append(server)
        address = f"127.0.0.1:{port}"
        await measure.wait_serving(address)
        worker_env = {
            **env,
            "PRIVACY_WORKERS": str(per_process),
            "PRIVACY_LOG_LEVEL": "INFO",  # "worker started": ready
        }
        workers = [
            await asyncio.create_subprocess_exec(
                privacyctl, "worker", env=worker_env, stderr=workers_log
            )
            for _ in range(processes)
        ]
        spawned += workers
        await _started(run_dir / "workers.log", processes * per_process, workers)
        target = measure.Target(address, (run_dir / "data" / "dev-token").read_text().strip())
        backends: set[int] = set()
        meter = CpuMeter(
            {
                "workers": lambda: {w.pid for w in workers},
                "postgres": lambda: backends,
                "serve": lambda: {server.pid},
                "bench": lambda: {os.getpid()},  # this process: submits, waits, samples
            }
        )

        async def refresh_backends(stop: asyncio.Event) -> None:
            while not stop.is_set():
                backends.update(await _postgres_pids(conn, name))
                try:
                    await asyncio.wait_for(stop.wait(), 0.25)
                except TimeoutError:
                    pass

        backends.update(await _postgres_pids(conn, name))
        meter.start()
        stop = asyncio.Event()
        sampling = [
            asyncio.create_task(meter.run(stop)),
            asyncio.create_task(refresh_backends(stop)),
        ]
        try:
            async with target.client() as client:
                jobs = [
                    await client.anonymize(tenant, subject(whole_tenant=tenant))
                    for tenant in setup.tenants
                ]
                done = await asyncio.gather(*(client.wait_job(job.id) for job in jobs))
            used = meter.totals()  # before any process ends
        finally:
            stop.set()
            await asyncio.gather(*sampling)
        for job in done:
            if job.state != pb.JOB_STATE_SUCCEEDED:
                raise RuntimeError(f"job {job.id} ended {job.state}: {job.error_message}")
    finally:
        for process in reversed(spawned):
            if process.returncode is None:
                process.terminate()
        for process in spawned:
            await process.wait()
        serve_log.close()
        workers_log.close()
    wall = used["wall"]
    return {
        "processes": processes,
        "workers_per_process": per_process,
        "rows": rows,
        "seconds": wall,
        "rows_per_s": rows / wall,
        "cpu_seconds": {k: v for k, v in used.items() if k != "wall"},
        # CPU-seconds per second of wall time: how many cores each kept busy.
        "cores_busy": {k: v / wall for k, v in used.items() if k != "wall"},
        # How busy one worker process was: 1.0 is its interpreter's limit.
        "per_worker_process": used["workers"] / wall / processes,
        # What a row cost, in CPU: this holds still when other work takes cores away
        # from a run, which the rate does not.
        "cpu_ms_per_row": {k: 1000 * used[k] / rows for k in ("workers", "postgres", "serve")},
    }


async def scaleout(setup: Setup, rows: int) -> dict[str, Any]:
    """1, 2 and 4 processes of setup.workers_per_process workers; then, as a control,
    one process with a worker per tenant (as many jobs in flight as 4 processes have):
    what more processes give beyond more jobs at once."""
    shapes = [(n, setup.workers_per_process) for n in PROCESSES]
    shapes.append((1, len(setup.tenants)))
    runs = []
    for processes, workers in shapes:
        started = time.perf_counter()
        run = await one_run(setup, processes, workers, rows)
        busy = run["cores_busy"]
        print(
            f"scaleout {processes} process(es) x {workers} workers: "
            f"{run['rows_per_s']:,.0f} rows/s; cores busy: "
            f"workers {busy['workers']:.2f}, postgres {busy['postgres']:.2f}, serve "
            f"{busy['serve']:.2f}, bench {busy['bench']:.2f}, other {busy['other']:.2f}, "
            f"I/O wait {busy['iowait']:.2f}; each worker process {run['per_worker_process']:.2f} "
            f"({time.perf_counter() - started:.1f}s)",
            file=sys.stderr,
            flush=True,
        )
        runs.append(run)
    one = runs[0]["rows_per_s"]
    cores = os.cpu_count() or 1
    for run in runs:
        run["speedup"] = run["rows_per_s"] / one
        # The rate if the workers, PostgreSQL and the serving process had every
        # core to themselves at this cost per row: what the machine allows.
        run["ceiling_rows_per_s"] = 1000 * cores / sum(run["cpu_ms_per_row"].values())
    return {
        "tenants": len(setup.tenants),
        "rows": rows,
        "workers_per_process": setup.workers_per_process,
        "cores": cores,
        "job": "tenant-wide Anonymize, one per tenant, all submitted at once",
        "runs": runs,
    }
