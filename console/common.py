"""What privacyctl's client commands share: exit codes, reason codes, and how they
reach the service (address, token, TLS)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import grpc

from atomicrm.privacy.v1 import privacy_pb2 as pb
from clients.client import DEFAULT_TARGET, PrivacyClient

# The exit statuses live in console/exit_codes.py (the table --help prints); these
# names stay here for the commands that import them from here.
from console.exit_codes import EXIT_JOB_NOT_SUCCEEDED as EXIT_JOB_NOT_SUCCEEDED
from console.exit_codes import EXIT_OK as EXIT_OK
from console.exit_codes import EXIT_RPC_ERROR as EXIT_RPC_ERROR
from console.exit_codes import EXIT_USAGE as EXIT_USAGE

REASON_CODES = {
    name.removeprefix("REASON_CODE_").lower(): value for name, value in pb.ReasonCode.items()
}


def tls_from_env() -> grpc.ChannelCredentials | None:
    """TLS when PRIVACY_TLS_CA names the CA to trust; with PRIVACY_TLS_CLIENT_CERT and
    PRIVACY_TLS_CLIENT_KEY, also present a client certificate (mutual TLS)."""
    ca = os.environ.get("PRIVACY_TLS_CA")
    if not ca:
        return None
    cert = os.environ.get("PRIVACY_TLS_CLIENT_CERT")
    key = os.environ.get("PRIVACY_TLS_CLIENT_KEY")
    return grpc.ssl_channel_credentials(
        Path(ca).read_bytes(),
        Path(key).read_bytes() if key else None,
        Path(cert).read_bytes() if cert else None,
    )


def add_target(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument(
        "--target",
        default=os.environ.get("PRIVACY_GRPC_ADDR", DEFAULT_TARGET),
        help="server address (PRIVACY_GRPC_ADDR, default %(default)s)",
    )
    cmd.add_argument(
        "--token",
        default=os.environ.get("PRIVACY_TOKEN"),
        help="bearer token (PRIVACY_TOKEN; unset: the development token in "
        "PRIVACY_DATA_DIR/dev-token, written by the server's first start)",
    )


def token(args: argparse.Namespace) -> str | None:
    if args.token:
        return str(args.token)
    dev = Path(os.environ.get("PRIVACY_DATA_DIR", ".data")) / "dev-token"
    return dev.read_text().strip() if dev.is_file() else None


def client(args: argparse.Namespace) -> PrivacyClient:
    return PrivacyClient(args.target, token=token(args), tls=tls_from_env())
