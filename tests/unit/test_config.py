from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from server.config import ConfigError, Settings


def test_defaults_need_no_environment() -> None:
    s = Settings.from_env({})
    assert s.database_url is None  # the embedded PostgreSQL
    assert s.grpc_addr == "127.0.0.1:50051"
    assert s.metrics_addr == "127.0.0.1:9464"
    assert s.workers == 2
    assert s.blob_dir == Path(".data/blobs")
    assert s.deadline == timedelta(days=30)


def test_environment_overrides() -> None:
    s = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://db/x",
            "PRIVACY_WORKERS": "0",
            "PRIVACY_BLOB_DIR": "/srv/blobs",
            "PRIVACY_LEASE_SECONDS": "2.5",
        }
    )
    assert s.database_url == "postgresql://db/x"
    assert s.workers == 0
    assert s.blob_dir == Path("/srv/blobs")
    assert s.lease == timedelta(seconds=2.5)


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("PRIVACY_WORKERS", "two", "PRIVACY_WORKERS must be a whole number"),
        ("PRIVACY_WORKERS", "-1", "PRIVACY_WORKERS must be at least 0"),
        ("PRIVACY_BATCH_SIZE", "0", "PRIVACY_BATCH_SIZE must be at least 1"),
        ("PRIVACY_LEASE_SECONDS", "soon", "must be a number of seconds"),
        ("PRIVACY_GRACE_SECONDS", "0", "must be positive"),
    ],
)
def test_bad_values_are_named(name: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        Settings.from_env({name: value})


def test_tls_paths_come_together() -> None:
    settings = Settings.from_env(
        {"PRIVACY_TLS_CERT": "s.pem", "PRIVACY_TLS_KEY": "k.pem", "PRIVACY_TLS_CLIENT_CA": "ca"}
    )
    assert (settings.tls_cert, settings.tls_key, settings.tls_client_ca) == (
        Path("s.pem"),
        Path("k.pem"),
        Path("ca"),
    )
    assert Settings.from_env({}).tls_cert is None
    with pytest.raises(ConfigError, match="set together"):
        Settings.from_env({"PRIVACY_TLS_CERT": "s.pem"})
    with pytest.raises(ConfigError, match="needs PRIVACY_TLS_CERT"):
        Settings.from_env({"PRIVACY_TLS_CLIENT_CA": "ca"})


def test_authentication_settings() -> None:
    defaults = Settings.from_env({"PRIVACY_DATA_DIR": "/srv/privacy"})
    assert defaults.dev_credential is True
    assert defaults.auth_cache == timedelta(seconds=5)
    assert defaults.dev_token_file == Path("/srv/privacy/dev-token")
    s = Settings.from_env({"PRIVACY_DEV_CREDENTIAL": "off", "PRIVACY_AUTH_CACHE_SECONDS": "0.5"})
    assert s.dev_credential is False
    assert s.auth_cache == timedelta(seconds=0.5)


def test_audit_checkpoint_settings() -> None:
    defaults = Settings.from_env({"PRIVACY_DATA_DIR": "/srv/privacy"})
    assert defaults.audit_checkpoint_interval == timedelta(minutes=15)
    assert defaults.audit_checkpoint_file == Path("/srv/privacy/audit-checkpoints.jsonl")
    assert defaults.audit_signing_key == Path("/srv/privacy/audit-signing.key")
    own = Settings.from_env(
        {
            "PRIVACY_AUDIT_CHECKPOINT_SECONDS": "60",
            "PRIVACY_AUDIT_CHECKPOINT_FILE": "/ship/checkpoints.jsonl",
            "PRIVACY_AUDIT_SIGNING_KEY": "/keys/audit.key",
        }
    )
    assert own.audit_checkpoint_interval == timedelta(seconds=60)
    assert own.audit_checkpoint_file == Path("/ship/checkpoints.jsonl")
    assert own.audit_signing_key == Path("/keys/audit.key")
    off = Settings.from_env({"PRIVACY_AUDIT_CHECKPOINT_SECONDS": "off"})
    assert off.audit_checkpoint_interval is None
    with pytest.raises(ConfigError, match="PRIVACY_AUDIT_CHECKPOINT_SECONDS must be positive"):
        Settings.from_env({"PRIVACY_AUDIT_CHECKPOINT_SECONDS": "0"})
