"""Small, explicit rows for tests that need a few of them (the seed makes many),
written by the demo data's one writer (demo.writer)."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from demo.rows import ContactRow, FileRow, MessageRow, Plan
from demo.writer import insert_tenant, write
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
    await insert_tenant(conn, tenant_id, tenant_id)
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
    plan = Plan(
        contacts=[ContactRow(first_name=first, last_name=last, email=email, phone=phone)],
        messages=[
            MessageRow(
                channel="email",
                contact=0,
                direction="inbound",
                sender=email,
                body=f"Message {i} from {first} {last}",
            )
            for i in range(messages)
        ],
        files=[
            FileRow(
                contact=0,
                name=f"{first}_{last}_{i}.txt",
                content_type="text/plain",
                data=f"{first} {last} <{email}> file {i}".encode(),
            )
            for i in range(files)
        ],
    )
    written = await write(conn, blobs, tenant_id, plan)
    return Person(written.contacts[0], first, last, email, phone)
