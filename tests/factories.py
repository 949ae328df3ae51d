"""Small, explicit rows for tests that need a few of them (the seed makes many)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import asyncpg

from server.blobs import BlobStore


@dataclass(frozen=True)
class Person:
    id: int
    first_name: str
    last_name: str
    email: str
    phone: str

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


async def tenant(conn: asyncpg.Connection, tenant_id: str = "acme") -> str:
    await conn.execute("INSERT INTO tenants (tenant_id, name) VALUES ($1, $1)", tenant_id)
    return tenant_id


async def contact(
    conn: asyncpg.Connection,
    tenant_id: str,
    first: str,
    last: str,
    *,
    phone: str = "+1 (555) 010-2030",
    messages: int = 0,
    blobs: BlobStore | None = None,
    files: int = 0,
) -> Person:
    email = f"{first}.{last}@example.com".lower()
    cid = await conn.fetchval(
        "INSERT INTO contacts (tenant_id, first_name, last_name, email, phone) "
        "VALUES ($1, $2, $3, $4, $5) RETURNING id",
        tenant_id,
        first,
        last,
        email,
        phone,
    )
    for i in range(messages):
        await conn.execute(
            "INSERT INTO messages (tenant_id, channel, contact_id, direction, sender, body) "
            "VALUES ($1, 'email', $2, 'inbound', $3, $4)",
            tenant_id,
            cid,
            email,
            f"Message {i} from {first} {last}",
        )
    for i in range(files):
        assert blobs is not None
        data = f"{first} {last} <{email}> file {i}".encode()
        key = blobs.new_key(tenant_id)
        blobs.put(tenant_id, key, data)
        await conn.execute(
            "INSERT INTO files (tenant_id, contact_id, name, content_type, size_bytes, sha256, "
            "blob_key) VALUES ($1, $2, $3, 'text/plain', $4, $5, $6)",
            tenant_id,
            cid,
            f"{first}_{last}_{i}.txt",
            len(data),
            hashlib.sha256(data).hexdigest(),
            key,
        )
    return Person(cid, first, last, email, phone)
