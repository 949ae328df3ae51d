"""Prometheus metrics. Labels never carry personal data or unbounded values."""

from __future__ import annotations

from prometheus_client import Counter, start_http_server

PREFIX = "privacy"

JOBS_SUBMITTED = Counter(
    f"{PREFIX}_jobs_submitted_total", "Jobs accepted, by kind.", ["kind", "dry_run"]
)
BATCHES = Counter(
    f"{PREFIX}_batches_total",
    "Batches committed, by job kind and data type.",
    ["kind", "data_type"],
)
ROWS = Counter(
    f"{PREFIX}_rows_processed_total",
    "Rows processed, by job kind and data type.",
    ["kind", "data_type"],
)


def serve_metrics(addr: str) -> None:
    """Expose /metrics over HTTP on host:port (a background thread)."""
    host, _, port = addr.rpartition(":")
    start_http_server(int(port), addr=host or "127.0.0.1")
