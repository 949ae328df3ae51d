"""Prometheus metrics. Labels never carry personal data or unbounded values
(no subject, no job id): only kinds, states, data types, RPC methods and codes.

The backlog figures come from the jobs table (only open jobs, through the partial
index the queue uses, so the query does not grow with history) and are refreshed
periodically by every process that serves metrics; alerts take max() over them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from wsgiref.simple_server import WSGIServer

import asyncpg
from prometheus_client import Counter, Gauge, Histogram, start_http_server

from server.events import repeat
from server.queries import Q

log = logging.getLogger(__name__)

PREFIX = "privacy"
KINDS = ("erase", "anonymize")
OPEN_STATES = ("scheduled", "pending", "running", "held")
DEFAULT_REFRESH = timedelta(seconds=5)

# Backlog, from the jobs table.
JOBS_OPEN = Gauge(
    f"{PREFIX}_jobs_open", "Jobs not finished yet, by kind and state.", ["kind", "state"]
)
OLDEST_OPEN_AGE = Gauge(
    f"{PREFIX}_oldest_open_job_age_seconds",
    "Age of the oldest job that is due (pending or running) and not finished.",
)
DEADLINE_AT_RISK = Gauge(
    f"{PREFIX}_jobs_deadline_within_72h",
    "Open jobs (not held) whose deadline is less than 72 hours away.",
)
DEADLINE_BREACHED = Gauge(
    f"{PREFIX}_jobs_past_deadline", "Open jobs (not held) past their deadline."
)
BACKLOG_REFRESHED = Gauge(
    f"{PREFIX}_backlog_refreshed_timestamp_seconds",
    "When this process last read the backlog figures.",
)

# Work.
JOBS_SUBMITTED = Counter(
    f"{PREFIX}_jobs_submitted_total", "Jobs accepted, by kind.", ["kind", "dry_run"]
)
JOBS_FINISHED = Counter(
    f"{PREFIX}_jobs_finished_total",
    "Jobs that reached a terminal state, by kind and state.",
    ["kind", "state"],
)
BATCHES = Counter(
    f"{PREFIX}_batches_total",
    "Batches committed, by job kind and data type.",
    ["kind", "data_type"],
)
ROWS = Counter(
    f"{PREFIX}_rows_processed_total",
    "Rows processed (erased, anonymized or redacted), by job kind and data type.",
    ["kind", "data_type"],
)
BATCH_SECONDS = Histogram(
    f"{PREFIX}_batch_duration_seconds",
    "Time of one batch, its transaction included.",
    ["kind", "data_type"],
)
FILES_NEEDING_REVIEW = Counter(
    f"{PREFIX}_files_needing_review_total",
    "Files that hold a job's subject but could not be rewritten safely (a PDF, an "
    "office document): listed in the job's needs_review for an operator.",
    ["kind", "data_type"],
)
BATCH_FAILURES = Counter(
    f"{PREFIX}_batch_failures_total",
    "Batches that failed and rolled back (each is retried or fails its job).",
)

# The suppression list (no identifier, no hash in any label).
SUPPRESSION_CHECKS = Counter(
    f"{PREFIX}_suppression_checks_total",
    "Identifiers asked about by CheckSuppression.",
)
SUPPRESSION_HITS = Counter(
    f"{PREFIX}_suppression_hits_total",
    "Identifiers CheckSuppression answered as suppressed.",
)
LATE_ARRIVALS_ERASED = Counter(
    f"{PREFIX}_late_arrivals_erased_total",
    "Contacts and users the suppression sweep found with a suppressed identifier, "
    "created or changed after the erasure, and erased; by tenant (an integration that "
    "keeps bringing people back).",
    ["tenant"],
)

# gRPC.
GRPC_STARTED = Counter(
    f"{PREFIX}_grpc_server_started_total", "RPCs started, by method.", ["grpc_method"]
)
GRPC_HANDLED = Counter(
    f"{PREFIX}_grpc_server_handled_total",
    "RPCs completed, by method and status code.",
    ["grpc_method", "grpc_code"],
)
GRPC_SECONDS = Histogram(
    f"{PREFIX}_grpc_server_handling_seconds",
    "Time to handle an RPC (a stream: until it ends).",
    ["grpc_method"],
)

# Workers and the pool.
WORKERS_ACTIVE = Gauge(f"{PREFIX}_workers_active", "Worker loops running in this process.")
WORKER_HEARTBEAT = Gauge(
    f"{PREFIX}_worker_last_heartbeat_timestamp_seconds",
    "When a worker of this process last polled for work or ended a batch.",
)
POOL_IN_USE = Gauge(
    f"{PREFIX}_db_pool_connections_in_use",
    "Database connections of this process's pool that are checked out.",
)
POOL_SIZE = Gauge(f"{PREFIX}_db_pool_connections", "Connections open in this process's pool.")


def heartbeat() -> None:
    WORKER_HEARTBEAT.set(time.time())


def serve_metrics(addr: str) -> WSGIServer:
    """Expose /metrics over HTTP on host:port (port 0: any free one), in a thread."""
    host, _, port = addr.rpartition(":")
    server, _thread = start_http_server(int(port), addr=host or "127.0.0.1")
    return server


async def refresh_backlog(pool: asyncpg.Pool) -> None:
    """Read the backlog figures from the jobs table into the gauges."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(Q["backlog"])
    seen = {(r["kind"], r["state"]): r for r in rows}
    for kind in KINDS:
        for state in OPEN_STATES:
            row = seen.get((kind, state))
            JOBS_OPEN.labels(kind=kind, state=state).set(row["jobs"] if row else 0)
    # A held job waits lawfully (a legal hold): it is neither due nor late.
    due = [r for r in rows if r["state"] not in ("scheduled", "held")]
    OLDEST_OPEN_AGE.set(max((r["oldest_age"] or 0 for r in due), default=0))
    DEADLINE_AT_RISK.set(sum(r["at_risk"] for r in rows if r["state"] != "held"))
    DEADLINE_BREACHED.set(sum(r["past_deadline"] for r in rows if r["state"] != "held"))
    POOL_SIZE.set(pool.get_size())
    POOL_IN_USE.set(pool.get_size() - pool.get_idle_size())
    BACKLOG_REFRESHED.set(time.time())


async def refresh_forever(pool: asyncpg.Pool, every: timedelta, stop: asyncio.Event) -> None:
    """Refresh the backlog figures until stop is set; a failed read is retried next time."""
    await repeat(
        lambda: refresh_backlog(pool), every=every, stop=stop, what="backlog refresh", logger=log
    )
