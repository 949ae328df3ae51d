"""The figures of make bench: each times the service and the raw-SQL limit beside it."""

from __future__ import annotations

import asyncio
import hashlib
import random
import socket
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import grpc
from faker import Faker
from grpc_health.v1 import health_pb2, health_pb2_grpc

from atomicrm.privacy.v1 import privacy_pb2 as pb
from clients.client import PrivacyClient, email, subject
from clients.export_files import file_chunks_of, lines_of
from server import ratelimit, suppressions
from server.job_model import ReasonCode

# Every table of a tenant, in an order a plain DELETE can follow (references first).
TABLES = (
    "files",
    "messages",
    "usage_events",
    "notes",
    "deals",
    "contacts",
    "sessions",
    "billing_contacts",
    "channel_credentials",
    "users",
)
# The columns Anonymize rewrites, per table: what the raw UPDATE … md5() touches too.
PERSONAL = {
    "contacts": ("first_name", "last_name", "email", "phone", "address"),
    "messages": ("sender", "subject", "body"),
    "notes": ("body",),
    "deals": ("description",),
    "files": ("name",),
    "users": ("name", "email", "display_name"),
    "billing_contacts": ("name", "email", "phone", "address"),
    "sessions": ("user_agent", "device_id"),
    "usage_events": ("user_agent", "device_id"),
}


async def tenant_rows(conn: asyncpg.Connection, tenant: str) -> int:
    total = 0
    for table in TABLES:
        total += await conn.fetchval(f"SELECT count(*) FROM {table} WHERE tenant_id = $1", tenant)
    return total


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True)
class Target:
    """The service under measurement: its address and a caller's token."""

    address: str
    token: str

    def client(self) -> PrivacyClient:
        return PrivacyClient(self.address, token=self.token)


async def wait_serving(address: str) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for _ in range(300):
            try:
                answer = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the server on {address} never served")


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


async def submission(
    target: Target, conn: asyncpg.Connection, tenant: str, callers: int, requests: int
) -> dict[str, Any]:
    """Erase submissions (dry runs: the accept path, no worker load) from many callers."""
    emails = [
        r["email"]
        for r in await conn.fetch(
            "SELECT email FROM contacts WHERE tenant_id = $1 ORDER BY id", tenant
        )
    ]
    latencies: list[float] = []
    queue = iter(range(requests))

    async def caller(client: PrivacyClient) -> None:
        for i in queue:
            started = time.perf_counter()
            await client.erase(tenant, subject(email=emails[i % len(emails)]), dry_run=True)
            latencies.append(time.perf_counter() - started)

    async with target.client() as client:
        await client.erase(tenant, subject(email=emails[0]), dry_run=True)  # warm up
        started = time.perf_counter()
        await asyncio.gather(*(caller(client) for _ in range(callers)))
        elapsed = time.perf_counter() - started
    return {
        "requests": requests,
        "callers": callers,
        "requests_per_s": requests / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * _percentile(latencies, 0.99),
    }


async def latency(
    target: Target, conn: asyncpg.Connection, tenant: str, subjects: int, alone: int
) -> dict[str, Any]:
    """Submit-to-SUCCEEDED of single-contact erasures: `alone` one at a time (one job
    in flight), then all in flight at once.

    Two rounds of `subjects` different contacts in flight, the second timed: the
    first reads the tenant's indexes in from disk (this machine gives back memory
    unused for a minute), which a tenant in use has in memory already; the ones
    alone come after both."""
    ids = [
        r["id"]
        for r in await conn.fetch(
            "SELECT id FROM contacts WHERE tenant_id = $1 ORDER BY random() LIMIT $2",
            tenant,
            2 * subjects + alone,
        )
    ]
    if len(ids) < 2 * subjects + alone:
        raise RuntimeError(f"tenant {tenant} has fewer than {2 * subjects + alone} contacts")
    rows = await tenant_rows(conn, tenant)

    async def one(client: PrivacyClient, contact_id: int) -> float:
        started = time.perf_counter()
        job = await client.erase(tenant, subject(contact_id=contact_id))
        done = await client.wait_job(job.id)
        if done.state != pb.JOB_STATE_SUCCEEDED:
            raise RuntimeError(f"job {job.id} ended {done.state}: {done.error_message}")
        return time.perf_counter() - started

    rounds: list[list[float]] = []
    for contacts in (ids[:subjects], ids[subjects : 2 * subjects]):
        async with target.client() as client:
            rounds.append(list(await asyncio.gather(*(one(client, i) for i in contacts))))
    first, times = rounds
    async with target.client() as client:
        single = [await one(client, i) for i in ids[2 * subjects :]]
    return {
        "alone": {
            "subjects": alone,
            "p50_ms": 1000 * statistics.median(single),
            "p99_ms": 1000 * _percentile(single, 0.99),
        },
        "tenant_rows": rows,
        "subjects": subjects,
        "p50_ms": 1000 * statistics.median(times),
        "p99_ms": 1000 * _percentile(times, 0.99),
        "first_round": {
            "p50_ms": 1000 * statistics.median(first),
            "p99_ms": 1000 * _percentile(first, 0.99),
        },
    }


def _status_mb(pid: int, field: str) -> float:
    """A memory figure of /proc/<pid>/status (VmRSS, VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _reset_peak(pid: int) -> bool:
    """Start VmHWM (the peak RSS) again from the current RSS; False where not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


async def _export_bytes(target: Target, tenant: str, pid: int) -> tuple[int, float, float]:
    """Bytes, seconds, and the server's peak RSS (MB) during one whole-tenant export."""
    exact = _reset_peak(pid)
    peak = _status_mb(pid, "VmRSS")
    size = 0
    started = time.perf_counter()
    async with target.client() as client:
        async for chunk in client.export(tenant, subject(whole_tenant=tenant)):
            # The records' JSON (not the newlines between them) and the files' bytes.
            size += sum(len(run.ndjson) - run.count for run in lines_of(chunk))
            size += sum(len(piece.data) for piece in file_chunks_of(chunk))
            if not exact:  # sampled instead: a peak between two samples is missed
                peak = max(peak, _status_mb(pid, "VmRSS"))
    elapsed = time.perf_counter() - started
    if exact:
        peak = _status_mb(pid, "VmHWM")
    return size, elapsed, max(peak, _status_mb(pid, "VmRSS"))


async def _copy_seconds(conn: asyncpg.Connection, tenant: str, select: str) -> tuple[int, float]:
    """Bytes and seconds of COPY (`select` over each exported table) TO STDOUT."""
    copied = 0

    async def sink(data: bytes) -> None:
        nonlocal copied
        copied += len(data)

    started = time.perf_counter()
    for table in TABLES:
        if table != "channel_credentials":  # never exported
            await conn.copy_from_query(select.format(table=table), tenant, output=sink)
    return copied, time.perf_counter() - started


async def export(
    target: Target, conn: asyncpg.Connection, pid: int, large: str, small: str
) -> dict[str, Any]:
    """Export over gRPC beside COPY (SELECT …) TO STDOUT of the same rows, and the
    server's peak RSS during a small tenant's export and then a large one's (the
    small one first: what any first export allocates is not charged to size).

    Two rounds of the three (the export, COPY, COPY as JSON), the second timed:
    whichever reads the tenant first would otherwise pay for reading it from disk
    (here the kernel gives back memory it has not seen used lately, so a tenant
    seeded minutes before is not all in the page cache)."""
    _, _, peak_small = await _export_bytes(target, small, pid)
    cold: dict[str, float] = {}
    peak_large = 0.0
    for round_ in ("cold", "warm"):
        size, elapsed, peak = await _export_bytes(target, large, pid)
        peak_large = max(peak_large, peak)
        raw_bytes, raw_elapsed = await _copy_seconds(
            conn, large, "SELECT * FROM {table} WHERE tenant_id = $1"
        )
        # The same rows as JSON, by the database alone: what rendering JSON costs it.
        json_bytes, json_elapsed = await _copy_seconds(
            conn, large, "SELECT row_to_json(t) FROM {table} t WHERE tenant_id = $1"
        )
        if round_ == "cold":
            cold = {
                "service_seconds": elapsed,
                "raw_seconds": raw_elapsed,
                "json_copy_seconds": json_elapsed,
            }
    service, raw = size / elapsed / 1e6, raw_bytes / raw_elapsed / 1e6
    return {
        "service_bytes": size,
        "service_mb_per_s": service,
        "service_seconds": elapsed,
        "raw_bytes": raw_bytes,
        "raw_mb_per_s": raw,
        "raw_seconds": raw_elapsed,
        "ratio": service / raw,
        "json_copy_bytes": json_bytes,
        "json_copy_mb_per_s": json_bytes / json_elapsed / 1e6,
        "json_copy_seconds": json_elapsed,
        "first_round": cold,
        "rss_peak_large_mb": peak_large,
        "rss_peak_small_mb": peak_small,
        "rss_growth_mb": peak_large - peak_small,
        "note": "the second of two rounds; COPY is timed without reading the blob files "
        "the export also sends; json_copy: the same rows as row_to_json, by COPY",
    }


async def _run_job(target: Target, tenant: str, anonymize: bool) -> float:
    async with target.client() as client:
        started = time.perf_counter()
        submit = client.anonymize if anonymize else client.erase
        job = await submit(tenant, subject(whole_tenant=tenant))
        done = await client.wait_job(job.id)
        elapsed = time.perf_counter() - started
    if done.state != pb.JOB_STATE_SUCCEEDED:
        raise RuntimeError(f"job ended {done.state}: {done.error_message}")
    return elapsed


async def tenant_erase(
    target: Target, conn: asyncpg.Connection, service_tenant: str, raw_tenant: str
) -> dict[str, Any]:
    rows = await tenant_rows(conn, service_tenant)
    elapsed = await _run_job(target, service_tenant, anonymize=False)
    raw_rows = await tenant_rows(conn, raw_tenant)
    started = time.perf_counter()
    async with conn.transaction():
        for table in TABLES:
            await conn.execute(f"DELETE FROM {table} WHERE tenant_id = $1", raw_tenant)
    raw_elapsed = time.perf_counter() - started
    service, raw = rows / elapsed, raw_rows / raw_elapsed
    return {
        "rows": rows,
        "service_rows_per_s": service,
        "raw_rows": raw_rows,
        "raw_rows_per_s": raw,
        "ratio": service / raw,
    }


async def tenant_anonymize(
    target: Target, conn: asyncpg.Connection, service_tenant: str, raw_tenant: str, naive_rows: int
) -> dict[str, Any]:
    rows = await tenant_rows(conn, service_tenant)
    elapsed = await _run_job(target, service_tenant, anonymize=True)
    raw_rows = 0
    started = time.perf_counter()
    async with conn.transaction():
        for table, columns in PERSONAL.items():
            sets = ", ".join(f"{c} = md5({c})" for c in columns)
            status = await conn.execute(
                f"UPDATE {table} SET {sets} WHERE tenant_id = $1", raw_tenant
            )
            raw_rows += int(status.split()[-1])
    raw_elapsed = time.perf_counter() - started
    naive = await _naive_faker(conn, raw_tenant, naive_rows)
    service, raw = rows / elapsed, raw_rows / raw_elapsed
    return {
        "rows": rows,
        "service_rows_per_s": service,
        "raw_rows": raw_rows,
        "raw_rows_per_s": raw,
        "ratio": service / raw,
        "naive_rows_per_s": naive,
        "speedup_vs_naive": service / naive,
        # The raw UPDATE's own speed-up over the naive faker: what the limit allows.
        "raw_speedup_vs_naive": raw / naive,
    }


async def _naive_faker(conn: asyncpg.Connection, tenant: str, limit: int) -> float:
    """What the obvious code does: a Faker seeded per row, one UPDATE per row."""
    rows = await conn.fetch(
        "SELECT id, email FROM contacts WHERE tenant_id = $1 LIMIT $2", tenant, limit
    )
    started = time.perf_counter()
    for row in rows:
        fake = Faker()
        fake.seed_instance(int(hashlib.sha256(row["email"].encode()).hexdigest()[:8], 16))
        await conn.execute(
            "UPDATE contacts SET first_name = $2, last_name = $3, email = $4, phone = $5, "
            "address = $6 WHERE tenant_id = $1 AND id = $7",
            tenant,
            fake.first_name(),
            fake.last_name(),
            fake.email(),
            fake.phone_number(),
            fake.address(),
            row["id"],
        )
    return len(rows) / (time.perf_counter() - started)


@dataclass(frozen=True)
class SuppressedTenant:
    """A tenant's suppression list as the bench filled it: emails it holds (hits) and
    as many it does not (misses), with their keyed hashes, index for index."""

    tenant: str
    hits: list[str]
    misses: list[str]
    hit_hashes: list[bytes]
    miss_hashes: list[bytes]


async def fill_suppressions(
    conn: asyncpg.Connection, tenant: str, key: bytes, entries: int
) -> SuppressedTenant:
    """Fill the tenant's suppression list directly with `entries` emails' keyed hashes
    (as an Erase would have: server.suppressions.identifier_hash with the tenant's
    key), in one INSERT … SELECT unnest."""
    hits = [f"suppressed{i}@bench.example" for i in range(entries)]
    misses = [f"welcome{i}@bench.example" for i in range(entries)]

    def hashes(emails: list[str]) -> list[bytes]:
        return [
            suppressions.identifier_hash(key, suppressions.IdentifierKind.EMAIL, e.casefold())
            for e in emails
        ]

    hit_hashes, miss_hashes = hashes(hits), hashes(misses)
    await conn.execute(
        "INSERT INTO privacy_suppressions (tenant_id, identifier_hash, kind, reason_code, actor) "
        "SELECT $1, h, 'email', $3, 'bench' FROM unnest($2::bytea[]) AS h",
        tenant,
        hit_hashes,
        ReasonCode.DATA_SUBJECT_REQUEST.value,
    )
    return SuppressedTenant(tenant, hits, misses, hit_hashes, miss_hashes)


def suppression_batches(listed: SuppressedTenant, calls: int, size: int) -> list[list[int]]:
    """`calls` batches of `size` indexes into hits and misses: the first half of each
    batch hits, the second misses (the same indexes for the service and raw SQL)."""
    rng = random.Random(1)
    half = size // 2
    count = len(listed.hits)
    return [[rng.randrange(count) for _ in range(2 * half)] for _ in range(calls)]


def _rates(identifiers: int, elapsed: float, latencies: list[float]) -> dict[str, float]:
    return {
        "identifiers_per_s": identifiers / elapsed,
        "calls_per_s": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * _percentile(latencies, 0.99),
    }


async def _callers(batches: list[list[int]], callers: int, call: Any) -> tuple[float, list[float]]:
    """Run `call(batch)` over every batch from `callers` concurrent callers; seconds
    and each call's latency."""
    latencies: list[float] = []
    queue = iter(batches)

    async def caller() -> None:
        for batch in queue:
            started = time.perf_counter()
            await call(batch)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    return time.perf_counter() - started, latencies


async def suppression_service(
    target: Target, listed: SuppressedTenant, batches: list[list[int]], callers: int
) -> dict[str, float]:
    """CheckSuppression over one channel from `callers` concurrent callers; every
    answer is checked (hits suppressed, misses not)."""

    async with target.client() as client:

        async def call(batch: list[int]) -> None:
            half = len(batch) // 2
            asked = [email(listed.hits[i]) for i in batch[:half]]
            asked += [email(listed.misses[i]) for i in batch[half:]]
            answer = await client.check_suppression(listed.tenant, asked, timeout=10)
            if answer.suppressed != (True,) * half + (False,) * (len(batch) - half):
                raise RuntimeError("CheckSuppression answered wrong")

        await _callers(batches[: 2 * callers], callers, call)  # warm up
        elapsed, latencies = await _callers(batches, callers, call)
    return _rates(sum(map(len, batches)), elapsed, latencies)


async def suppression_raw(
    url: str, listed: SuppressedTenant, batches: list[list[int]], callers: int
) -> dict[str, float]:
    """The same lookups as one query per batch with precomputed hashes, over
    `callers` connections: what the database alone answers."""
    pool = await asyncpg.create_pool(url, min_size=callers, max_size=callers)
    try:

        async def call(batch: list[int]) -> None:
            half = len(batch) // 2
            hashes = [listed.hit_hashes[i] for i in batch[:half]]
            hashes += [listed.miss_hashes[i] for i in batch[half:]]
            async with pool.acquire() as conn:
                found = await conn.fetch(
                    "SELECT identifier_hash FROM privacy_suppressions "
                    "WHERE tenant_id = $1 AND identifier_hash = ANY($2)",
                    listed.tenant,
                    hashes,
                )
            if len(found) != len(set(hashes[:half])):
                raise RuntimeError("the raw lookup found other than the hits")

        await _callers(batches[: 2 * callers], callers, call)  # warm up
        elapsed, latencies = await _callers(batches, callers, call)
    finally:
        await pool.close()
    return _rates(sum(map(len, batches)), elapsed, latencies)


async def suppression(
    target: Target,
    url: str,
    listed: SuppressedTenant,
    calls: int,
    callers: int,
    batch: int = 100,
) -> dict[str, Any]:
    """CheckSuppression, `calls` batches of `batch` (half hits, half misses) from
    `callers` concurrent callers, beside one raw query per batch, same batches."""
    batches = suppression_batches(listed, calls, batch)
    service = await suppression_service(target, listed, batches, callers)
    raw = await suppression_raw(url, listed, batches, callers)
    return {
        "entries": len(listed.hits),
        "calls": calls,
        "batch": batch,
        "callers": callers,
        "service": service,
        "raw": raw,
        "ratio": service["identifiers_per_s"] / raw["identifiers_per_s"],
    }


async def rate_limit(url: str, calls: int, callers: int) -> dict[str, Any]:
    """What the shared rate limit costs a call: `calls` draws on the database's token
    buckets (server/ratelimit.py, the statement every limited RPC runs) beside as
    many `SELECT 1` round trips, from one caller, and from `callers` concurrent
    callers drawing on one bucket (its row lock queues them) or each on its own."""
    limit = ratelimit.RateLimit(per_minute=60_000_000, burst=1_000_000)  # never refuses
    pool = await asyncpg.create_pool(url, min_size=callers, max_size=callers)
    figures: dict[str, Any] = {"calls": calls, "callers": callers}
    try:

        async def select_one(_: list[int]) -> None:
            async with pool.acquire() as conn:
                await conn.fetchval("SELECT 1")

        def draw(same_bucket: bool) -> Any:
            async def call(batch: list[int]) -> None:
                caller = "bench" if same_bucket else f"bench-{batch[0] % callers}"
                async with pool.acquire() as conn:
                    if await ratelimit.take(conn, limit, "ratelimit", caller, "erase") > 0:
                        raise RuntimeError("the bench's bucket refused a call")

            return call

        batches = [[i] for i in range(calls)]
        for name, call, n in (
            ("select_one", select_one, 1),
            ("take", draw(True), 1),
            ("select_one_concurrent", select_one, callers),
            ("take_one_bucket", draw(True), callers),
            ("take_own_buckets", draw(False), callers),
        ):
            await _callers(batches[: 2 * n], n, call)  # warm up
            elapsed, latencies = await _callers(batches, n, call)
            figures[name] = _rates(calls, elapsed, latencies)
        async with pool.acquire() as conn:
            await conn.execute("DELETE FROM privacy_rate_buckets WHERE tenant_id = 'ratelimit'")
    finally:
        await pool.close()
    figures["extra_ms_per_call"] = figures["take"]["p50_ms"] - figures["select_one"]["p50_ms"]
    figures["ratio"] = figures["take"]["calls_per_s"] / figures["select_one"]["calls_per_s"]
    return figures


# The writes figure 0 times: the CRM's own statements on its own tables, over the
# first $2 rows of the tenant's (a bulk write of the whole tenant, six times, left
# millions of dead rows for the figures after it).
_FIRST = "id IN (SELECT id FROM {table} WHERE tenant_id = $1 ORDER BY id LIMIT $2)"
_WRITES = {
    "messages": (
        "UPDATE messages SET body = body || ' ' WHERE tenant_id = $1 AND "
        + _FIRST.format(table="messages"),
        "INSERT INTO messages (tenant_id, contact_id, channel, direction, sender, subject, "
        "body, recipients, cc, bcc, sent_at) SELECT tenant_id, contact_id, channel, "
        "direction, sender, subject, body, recipients, cc, bcc, sent_at FROM messages "
        "WHERE tenant_id = $1 AND " + _FIRST.format(table="messages"),
    ),
    "notes": (
        "UPDATE notes SET body = body || ' ' WHERE tenant_id = $1 AND "
        + _FIRST.format(table="notes"),
        "INSERT INTO notes (tenant_id, contact_id, deal_id, author_user_id, body) "
        "SELECT tenant_id, contact_id, deal_id, author_user_id, body FROM notes "
        "WHERE tenant_id = $1 AND " + _FIRST.format(table="notes"),
    ),
}
# The mention index's triggers on those tables (migration 0017).
_TRIGGERS = ("queue_new_texts", "queue_changed_text", "forget_texts")


async def _write_seconds(
    conn: asyncpg.Connection, table: str, statement: str, tenant: str, rows: int, *, indexed: bool
) -> float:
    """One statement's time, with or without the mention index's triggers; rolled
    back, so every run writes the same rows."""
    tr = conn.transaction()
    await tr.start()
    try:
        if not indexed:
            for trigger in _TRIGGERS:
                await conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_{trigger}")
        started = time.perf_counter()
        await conn.execute(statement, tenant, rows)
        return time.perf_counter() - started
    finally:
        await tr.rollback()


async def write_tax(
    conn: asyncpg.Connection, tenant: str, limit: int = 100_000, runs: int = 3
) -> dict[str, Any]:
    """The CRM's UPDATE (of the indexed text) and INSERT of up to `limit` messages and
    notes of `tenant`, with the privacy service's mention index and without it: the
    tax the index puts on writes that are not ours. Runs alternate; the median is
    kept. The dead rows they leave are vacuumed after."""
    figures: dict[str, Any] = {"tenant": tenant}
    for table, (update, insert) in _WRITES.items():
        count = f"SELECT count(*) FROM {table} WHERE tenant_id = $1"
        rows = min(limit, await conn.fetchval(count, tenant))
        for name, statement in (("update", update), ("insert", insert)):
            timed: dict[bool, list[float]] = {True: [], False: []}
            for _ in range(runs):
                for indexed in (False, True):
                    seconds = await _write_seconds(
                        conn, table, statement, tenant, rows, indexed=indexed
                    )
                    timed[indexed].append(seconds)
            with_index = statistics.median(timed[True])
            without = statistics.median(timed[False])
            figures[f"{table}_{name}"] = {
                "rows": rows,
                "rows_per_s_indexed": rows / with_index,
                "rows_per_s_plain": rows / without,
                "overhead": with_index / without,
            }
    await conn.execute("VACUUM (ANALYZE) messages, notes, privacy_texts_to_index")
    figures["worst_overhead"] = max(v["overhead"] for v in figures.values() if isinstance(v, dict))
    return figures
