"""TLS and mutual TLS are configuration: certificates made at run time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import asyncpg
import grpc
import pytest

from clients.client import PrivacyClient, PrivacyClientError
from server.app import App
from server.config import Settings
from tests import factories
from tests.helpers.certs import Certs, make_certs

# A hang guard: a refused handshake must end, not wait for a connection forever.
CALL_TIMEOUT = 10


@pytest.fixture(autouse=True)
async def acme(db: asyncpg.Connection) -> None:
    """The tenant the probe call names (a tenant the service does not know is NOT_FOUND)."""
    await factories.tenant(db, "acme")


@pytest.fixture
def certs(tmp_path: Path) -> Certs:
    return make_certs(tmp_path)


def _trusting(certs: Certs, *, with_client_cert: bool = False) -> grpc.ChannelCredentials:
    if with_client_cert:
        return grpc.ssl_channel_credentials(
            certs.ca.read_bytes(), certs.client_key.read_bytes(), certs.client_cert.read_bytes()
        )
    return grpc.ssl_channel_credentials(certs.ca.read_bytes())


@pytest.fixture
async def tls_app(no_workers: Settings, certs: Certs) -> AsyncIterator[App]:
    async with App(
        replace(no_workers, tls_cert=certs.server_cert, tls_key=certs.server_key)
    ) as app:
        yield app


@pytest.fixture
async def mtls_app(no_workers: Settings, certs: Certs) -> AsyncIterator[App]:
    async with App(
        replace(
            no_workers,
            tls_cert=certs.server_cert,
            tls_key=certs.server_key,
            tls_client_ca=certs.ca,
        )
    ) as app:
        yield app


async def _call(client: PrivacyClient) -> grpc.StatusCode:
    try:
        await client.verify_audit_log("acme", timeout=CALL_TIMEOUT)
    except PrivacyClientError as error:
        return error.code
    return grpc.StatusCode.OK


async def test_tls_serves_a_trusting_client_and_refuses_plaintext(
    tls_app: App, certs: Certs
) -> None:
    target = f"127.0.0.1:{tls_app.port}"
    token = tls_app.dev_token
    async with PrivacyClient(target, token=token, tls=_trusting(certs)) as client:
        assert await _call(client) is grpc.StatusCode.OK
    async with PrivacyClient(target, token=token) as plaintext:
        assert await _call(plaintext) is grpc.StatusCode.UNAVAILABLE


async def test_with_a_client_ca_a_client_certificate_is_required(
    mtls_app: App, certs: Certs
) -> None:
    target = f"127.0.0.1:{mtls_app.port}"
    token = mtls_app.dev_token
    async with PrivacyClient(target, token=token, tls=_trusting(certs)) as no_cert:
        assert await _call(no_cert) is grpc.StatusCode.UNAVAILABLE
    tls = _trusting(certs, with_client_cert=True)
    async with PrivacyClient(target, token=token, tls=tls) as client:
        assert await _call(client) is grpc.StatusCode.OK
