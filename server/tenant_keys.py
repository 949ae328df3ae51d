"""Tenant keys: made on first use, stored wrapped by the keyring, destroyed with the tenant.

The plain key exists only in the memory of the process using it (server/keyring.py
says why and how it is wrapped).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from db.connection import Connection
from server.keyring import Keyring, KeyringError
from server.queries import Q

KEY_BYTES = 32


def context(tenant_id: str) -> str:
    """What a tenant key's wrapping is bound to: it unwraps on its own row only."""
    return f"tenant:{tenant_id}"


def new_wrapped(keyring: Keyring, tenant_id: str) -> bytes:
    """A new random tenant key, wrapped for storage."""
    return keyring.wrap(secrets.token_bytes(KEY_BYTES), context(tenant_id))


def unwrap(keyring: Keyring, tenant_id: str, row: Any) -> bytes:
    """The plain key of a stored row (columns key, key_id, wrapped)."""
    if row["wrapped"] is None:  # stored before keys were wrapped; wrapped at start
        return bytes(row["key"])
    if row["key_id"] != keyring.key_id:
        raise KeyringError("a tenant key is wrapped by another keyring than this process's")
    return keyring.unwrap(bytes(row["wrapped"]), context(tenant_id))


async def tenant_key(conn: Connection, tenant_id: str, keyring: Keyring) -> bytes:
    """The tenant's secret key, created on first use."""
    await conn.execute(
        Q["ensure_tenant_key"], tenant_id, keyring.key_id, new_wrapped(keyring, tenant_id)
    )
    row = await conn.fetchrow(Q["tenant_key"], tenant_id)
    return unwrap(keyring, tenant_id, row)


async def destroy(conn: Connection, tenant_id: str) -> None:
    """Crypto-shredding: the key goes, and with it every link its hashes made."""
    await conn.execute(Q["destroy_tenant_key"], tenant_id)
    await conn.execute(Q["forget_fingerprints"], tenant_id)


async def open_keyring(conn: Connection, path: Path) -> Keyring:
    """The service's keyring, checked against the database; a new one only for a
    database that holds no wrapped key yet. Keys stored plain by an earlier version
    are wrapped on the way."""
    stored = {r["key_id"] for r in await conn.fetch(Q["keyring_ids"])}
    keyring = Keyring.load(path, create=not stored)
    others = stored - {keyring.key_id}
    if others:
        raise KeyringError(
            f"the database's tenant keys are wrapped by another keyring than {path} "
            "(PRIVACY_KEYRING): every process of the service must use the same keyring file"
        )
    async with conn.transaction():
        for row in await conn.fetch(Q["plain_tenant_keys"]):
            wrapped = keyring.wrap(bytes(row["key"]), context(row["tenant_id"]))
            await conn.execute(Q["wrap_tenant_key"], row["tenant_id"], keyring.key_id, wrapped)
    return keyring
