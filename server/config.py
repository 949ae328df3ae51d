"""Settings, read once from the environment at the edge."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote, urlsplit

from anonymizers.text.phones import is_region

T = TypeVar("T")

DEFAULT_GRPC_ADDR = "127.0.0.1:50051"
DEFAULT_METRICS_ADDR = "127.0.0.1:9464"
DEFAULT_DATA_DIR = Path(".data")
DEFAULT_WORKERS = 2
DEFAULT_BATCH_SIZE = 500
DEFAULT_LEASE = timedelta(seconds=30)
DEFAULT_POLL_INTERVAL = timedelta(seconds=2)
DEFAULT_GRACE = timedelta(seconds=10)
DEFAULT_DEADLINE = timedelta(days=30)  # privacy policy, section 8
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_RETRY_BASE = timedelta(seconds=1)
DEFAULT_POOL_SIZE = 10
# How long an RPC waits for a database connection (and a new connection for its
# server) before answering UNAVAILABLE, instead of hanging while the database is down
# or every connection is busy.
DEFAULT_DB_TIMEOUT = timedelta(seconds=5)
# Erase, Anonymize and Export per caller and tenant: a steady minute's worth, with a
# burst for a batch of tickets worked through at once.
DEFAULT_RATE_LIMIT_PER_MINUTE = 60
DEFAULT_RATE_LIMIT_BURST = 20
DEFAULT_METRICS_REFRESH = timedelta(seconds=5)
DEFAULT_TIME_SLICE = timedelta(seconds=5)
DEFAULT_RETENTION_INTERVAL = timedelta(hours=1)
DEFAULT_RETENTION_ACTIVITY_MONTHS = 13
DEFAULT_RETENTION_CLOSED_ACCOUNT_DAYS = 7
# How long a bearer token is trusted without asking the database: a revocation
# takes effect within this long.
DEFAULT_AUTH_CACHE = timedelta(seconds=5)
# The region phone numbers without a country code are read in, for tenants that
# have none of their own (privacyctl tenant region).
DEFAULT_PHONE_REGION = "US"
DEFAULT_NOTE_RETENTION = timedelta(days=90)
# How often the suppression sweep looks for late arrivals (server/suppression_sweep.py).
DEFAULT_SUPPRESSION_SWEEP_INTERVAL = timedelta(minutes=5)
# How often the audit chains' heads are signed (server/checkpoints.py): a tail cut
# from a chain is detected once a checkpoint has vouched for it, so this bounds how
# recent an entry can be and still be cut unseen.
DEFAULT_AUDIT_CHECKPOINT_INTERVAL = timedelta(minutes=15)
DEFAULT_LOG_LEVEL = "INFO"
# `privacyctl serve` and `worker` run on uvloop (docs/performance.md: submissions).
DEFAULT_EVENT_LOOP = "uvloop"


class ConfigError(ValueError):
    """A setting in the environment is not valid."""


@dataclass(frozen=True)
class Settings:
    """Everything the server and workers need, with safe defaults."""

    database_url: str | None = None  # None: the embedded PostgreSQL under data_dir
    data_dir: Path = DEFAULT_DATA_DIR
    blob_dir: Path = DEFAULT_DATA_DIR / "blobs"
    # s3://bucket/prefix: blobs in an S3-compatible store (server.s3_blobs); None: blob_dir.
    blob_url: str | None = None
    grpc_addr: str = DEFAULT_GRPC_ADDR
    metrics_addr: str = DEFAULT_METRICS_ADDR  # empty: no metrics endpoint
    workers: int = DEFAULT_WORKERS
    batch_size: int = DEFAULT_BATCH_SIZE
    lease: timedelta = DEFAULT_LEASE
    poll_interval: timedelta = DEFAULT_POLL_INTERVAL
    grace: timedelta = DEFAULT_GRACE
    deadline: timedelta = DEFAULT_DEADLINE
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    retry_base: timedelta = DEFAULT_RETRY_BASE  # first retry delay; doubles each time
    pool_size: int = DEFAULT_POOL_SIZE
    metrics_refresh: timedelta = DEFAULT_METRICS_REFRESH  # how often backlog gauges are read
    time_slice: timedelta = DEFAULT_TIME_SLICE  # a worker's turn on one job
    retention_interval: timedelta | None = DEFAULT_RETENTION_INTERVAL  # None: rules not run
    # Retention defaults for tenants without their own rules; None: off.
    retention_activity_months: int | None = DEFAULT_RETENTION_ACTIVITY_MONTHS
    retention_closed_account_days: int | None = DEFAULT_RETENTION_CLOSED_ACCOUNT_DAYS
    db_timeout: timedelta = DEFAULT_DB_TIMEOUT
    rate_limit_per_minute: int = DEFAULT_RATE_LIMIT_PER_MINUTE  # 0: no limit
    rate_limit_burst: int = DEFAULT_RATE_LIMIT_BURST
    # TLS when both are set; a client CA then makes client certificates mandatory.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    auth_cache: timedelta = DEFAULT_AUTH_CACHE
    # On a database with no credential at all, make one with every scope and write
    # its token to <data_dir>/dev-token: `make run` then works with no setup.
    dev_credential: bool = True
    default_phone_region: str = DEFAULT_PHONE_REGION
    # The keyring that wraps tenant keys (server/keyring.py); None: <data_dir>/keyring.
    keyring: Path | None = None
    # A finished job's note is emptied this long after the job ended.
    note_retention: timedelta = DEFAULT_NOTE_RETENTION
    # None: no sweep in this process (PRIVACY_SUPPRESSION_SWEEP_SECONDS=off).
    suppression_sweep_interval: timedelta | None = DEFAULT_SUPPRESSION_SWEEP_INTERVAL
    # Signed checkpoints of the audit chains; None: never taken by `serve` itself.
    audit_checkpoint_interval: timedelta | None = DEFAULT_AUDIT_CHECKPOINT_INTERVAL
    audit_checkpoint_path: Path | None = None  # None: <data_dir>/audit-checkpoints.jsonl
    audit_signing_key_path: Path | None = None  # None: <data_dir>/audit-signing.key
    log_level: str = DEFAULT_LOG_LEVEL
    # "uvloop" or "asyncio"; checked by the commands that make the loop, so a bad
    # value stops `serve` and `worker` only.
    event_loop: str = DEFAULT_EVENT_LOOP
    # Who runs privacyctl (USER): its changes are audited as "privacyctl:<os_user>".
    os_user: str = "unknown"

    @property
    def dev_token_file(self) -> Path:
        return self.data_dir / "dev-token"

    @property
    def keyring_file(self) -> Path:
        return self.keyring or self.data_dir / "keyring"

    @property
    def audit_checkpoint_file(self) -> Path:
        return self.audit_checkpoint_path or self.data_dir / "audit-checkpoints.jsonl"

    @property
    def audit_signing_key(self) -> Path:
        return self.audit_signing_key_path or self.data_dir / "audit-signing.key"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from PRIVACY_* variables and DATABASE_URL."""
        env = os.environ if env is None else env
        data_dir = Path(env.get("PRIVACY_DATA_DIR", str(DEFAULT_DATA_DIR)))
        blob_dir, blob_url = _blob_store(env, data_dir)
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            data_dir=data_dir,
            blob_dir=blob_dir,
            blob_url=blob_url,
            grpc_addr=env.get("PRIVACY_GRPC_ADDR", DEFAULT_GRPC_ADDR),
            metrics_addr=env.get("PRIVACY_METRICS_ADDR", DEFAULT_METRICS_ADDR),
            workers=_int(env, "PRIVACY_WORKERS", DEFAULT_WORKERS, minimum=0),
            batch_size=_int(env, "PRIVACY_BATCH_SIZE", DEFAULT_BATCH_SIZE, minimum=1),
            lease=_seconds(env, "PRIVACY_LEASE_SECONDS", DEFAULT_LEASE),
            poll_interval=_seconds(env, "PRIVACY_POLL_SECONDS", DEFAULT_POLL_INTERVAL),
            grace=_seconds(env, "PRIVACY_GRACE_SECONDS", DEFAULT_GRACE),
            deadline=timedelta(days=_int(env, "PRIVACY_DEADLINE_DAYS", 30, minimum=1)),
            max_attempts=_int(env, "PRIVACY_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS, minimum=1),
            retry_base=_seconds(env, "PRIVACY_RETRY_BASE_SECONDS", DEFAULT_RETRY_BASE),
            pool_size=_int(env, "PRIVACY_POOL_SIZE", DEFAULT_POOL_SIZE, minimum=2),
            metrics_refresh=_seconds(
                env, "PRIVACY_METRICS_REFRESH_SECONDS", DEFAULT_METRICS_REFRESH
            ),
            time_slice=_seconds(env, "PRIVACY_TIME_SLICE_SECONDS", DEFAULT_TIME_SLICE),
            retention_interval=_off_or(
                env,
                "PRIVACY_RETENTION_INTERVAL_SECONDS",
                lambda: _seconds(
                    env, "PRIVACY_RETENTION_INTERVAL_SECONDS", DEFAULT_RETENTION_INTERVAL
                ),
            ),
            suppression_sweep_interval=_off_or(
                env,
                "PRIVACY_SUPPRESSION_SWEEP_SECONDS",
                lambda: _seconds(
                    env, "PRIVACY_SUPPRESSION_SWEEP_SECONDS", DEFAULT_SUPPRESSION_SWEEP_INTERVAL
                ),
            ),
            retention_activity_months=_off_or(
                env,
                "PRIVACY_RETENTION_ACTIVITY_MONTHS",
                lambda: _int(
                    env,
                    "PRIVACY_RETENTION_ACTIVITY_MONTHS",
                    DEFAULT_RETENTION_ACTIVITY_MONTHS,
                    minimum=1,
                ),
            ),
            retention_closed_account_days=_off_or(
                env,
                "PRIVACY_RETENTION_CLOSED_ACCOUNT_DAYS",
                lambda: _int(
                    env,
                    "PRIVACY_RETENTION_CLOSED_ACCOUNT_DAYS",
                    DEFAULT_RETENTION_CLOSED_ACCOUNT_DAYS,
                    minimum=0,
                    maximum=29,
                ),
            ),
            db_timeout=_seconds(env, "PRIVACY_DB_TIMEOUT_SECONDS", DEFAULT_DB_TIMEOUT),
            rate_limit_per_minute=_int(
                env, "PRIVACY_RATE_LIMIT_PER_MINUTE", DEFAULT_RATE_LIMIT_PER_MINUTE, minimum=0
            ),
            rate_limit_burst=_int(
                env, "PRIVACY_RATE_LIMIT_BURST", DEFAULT_RATE_LIMIT_BURST, minimum=1
            ),
            auth_cache=_seconds(env, "PRIVACY_AUTH_CACHE_SECONDS", DEFAULT_AUTH_CACHE),
            dev_credential=_off_or(env, "PRIVACY_DEV_CREDENTIAL", lambda: True) is not None,
            default_phone_region=_region(env),
            keyring=Path(env["PRIVACY_KEYRING"]) if env.get("PRIVACY_KEYRING") else None,
            note_retention=timedelta(days=_int(env, "PRIVACY_NOTE_RETENTION_DAYS", 90, minimum=1)),
            audit_checkpoint_interval=_off_or(
                env,
                "PRIVACY_AUDIT_CHECKPOINT_SECONDS",
                lambda: _seconds(
                    env, "PRIVACY_AUDIT_CHECKPOINT_SECONDS", DEFAULT_AUDIT_CHECKPOINT_INTERVAL
                ),
            ),
            audit_checkpoint_path=_path(env, "PRIVACY_AUDIT_CHECKPOINT_FILE"),
            audit_signing_key_path=_path(env, "PRIVACY_AUDIT_SIGNING_KEY"),
            log_level=env.get("PRIVACY_LOG_LEVEL", DEFAULT_LOG_LEVEL),
            event_loop=env.get("PRIVACY_EVENT_LOOP", DEFAULT_EVENT_LOOP),
            os_user=env.get("USER", "unknown"),
            **_tls(env),
        )


def _region(env: Mapping[str, str]) -> str:
    region = env.get("PRIVACY_DEFAULT_PHONE_REGION", DEFAULT_PHONE_REGION).strip().upper()
    if not is_region(region):
        raise ConfigError(
            f"PRIVACY_DEFAULT_PHONE_REGION must be a region code such as US, GB or DE, "
            f"not {region!r}"
        )
    return region


def _tls(env: Mapping[str, str]) -> dict[str, Path | None]:
    paths = {
        field: Path(env[name]) if env.get(name) else None
        for field, name in (
            ("tls_cert", "PRIVACY_TLS_CERT"),
            ("tls_key", "PRIVACY_TLS_KEY"),
            ("tls_client_ca", "PRIVACY_TLS_CLIENT_CA"),
        )
    }
    if (paths["tls_cert"] is None) != (paths["tls_key"] is None):
        raise ConfigError("PRIVACY_TLS_CERT and PRIVACY_TLS_KEY must be set together")
    if paths["tls_client_ca"] is not None and paths["tls_cert"] is None:
        raise ConfigError("PRIVACY_TLS_CLIENT_CA needs PRIVACY_TLS_CERT and PRIVACY_TLS_KEY")
    return paths


def _path(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name, "").strip()
    return Path(raw) if raw else None


def _off_or(env: Mapping[str, str], name: str, read: Callable[[], T]) -> T | None:
    """The setting read by `read`, or None when it is "off"."""
    return None if env.get(name, "").strip().lower() == "off" else read()


def _int(
    env: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int | None = None
) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name} must be at most {maximum}, got {value}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: timedelta) -> timedelta:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {value}")
    return timedelta(seconds=value)


def _blob_store(env: Mapping[str, str], data_dir: Path) -> tuple[Path, str | None]:
    """(blob_dir, blob_url) from PRIVACY_BLOB_URL: s3://bucket/prefix, or file:///path
    (the directory); without it, PRIVACY_BLOB_DIR or <data_dir>/blobs."""
    blob_dir = Path(env.get("PRIVACY_BLOB_DIR", str(data_dir / "blobs")))
    url = env.get("PRIVACY_BLOB_URL", "").strip()
    if not url:
        return blob_dir, None
    parts = urlsplit(url)
    if parts.scheme == "file" and parts.netloc in ("", "localhost") and parts.path:
        return Path(unquote(parts.path)), None
    if parts.scheme == "s3" and parts.netloc and not (parts.query or parts.fragment):
        return blob_dir, f"s3://{parts.netloc}/{parts.path.strip('/')}"
    raise ConfigError("PRIVACY_BLOB_URL must be s3://bucket/prefix or file:///path")
