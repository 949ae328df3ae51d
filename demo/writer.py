"""The one writer of CRM rows: plans (demo/rows.py) copied into a tenant.

The seeder, the bench (through the seeder) and the tests' factories all write
through here: ids are allocated from each table's identity sequence first, so
that rows can refer to each other, then every table is copied (COPY) at once.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from demo.rows import Plan
from server.blobs import BlobStore
from server.errors import PrivacyError


class TenantExists(PrivacyError):
    """That tenant exists already; choose another id."""


async def insert_tenant(conn: asyncpg.Connection, tenant_id: str, name: str) -> None:
    """The tenant's row. Raises TenantExists if it is there already."""
    try:
        await conn.execute("INSERT INTO tenants (tenant_id, name) VALUES ($1, $2)", tenant_id, name)
    except asyncpg.UniqueViolationError as exc:  # created meanwhile by someone else
        raise TenantExists() from exc
    # The tenant's key is made by the service on first use, wrapped by its keyring.


class StoredBlobs:
    """The blobs a plan's rows refer to, stored; to delete them again if the rows fail."""

    def __init__(self, blobs: BlobStore, tenant_id: str) -> None:
        self._blobs = blobs
        self._tenant_id = tenant_id
        self._keys: list[str] = []

    def store(self, data: bytes) -> str:
        key = self._blobs.new_key(self._tenant_id)
        self._keys.append(key)  # first: a put that fails halfway is undone too
        self._blobs.put(self._tenant_id, key, data)
        return key

    def store_plan(self, plan: Plan) -> None:
        """Store the plan's pictures and files, and give it their keys."""
        plan.picture_keys = [
            None if u.picture is None else self.store(u.picture) for u in plan.users
        ]
        plan.file_keys = [self.store(f.data) for f in plan.files]

    def undo(self) -> None:
        for key in self._keys:
            try:
                self._blobs.delete(self._tenant_id, key)
            except Exception:  # best effort: one failure must not stop the rest
                continue


@dataclass(frozen=True)
class Written:
    """The ids a plan's rows were given, in the plan's order, by table."""

    users: list[int]
    contacts: list[int]
    deals: list[int]
    notes: list[int]
    messages: list[int]
    files: list[int]


async def write(
    conn: asyncpg.Connection, blobs: BlobStore | None, tenant_id: str, plan: Plan
) -> Written:
    """Store the plan's blobs, then write its rows into the existing tenant: its users
    (and theirs) first, then its contacts (and theirs)."""
    if plan.users or plan.files:
        if blobs is None:
            raise ValueError("a plan with users or files needs a blob store")
        StoredBlobs(blobs, tenant_id).store_plan(plan)
    writer = Writer(conn, tenant_id)
    await writer.staff(plan)
    return await writer.contacts(plan)


def _at(ids: list[int], index: int | None) -> int | None:
    return None if index is None else ids[index]


class Writer:
    """Copies plans into the tenant, allocating the ids their rows refer to.

    Users first (staff), then contacts, in as many plans as wanted: a contacts
    plan's users are indexes into the users written before by this writer.
    """

    def __init__(self, conn: asyncpg.Connection, tenant_id: str) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self.now = datetime.now(UTC)
        self.user_ids: list[int] = []
        self.counts: Counter[str] = Counter()

    async def _ids(self, table: str, count: int) -> list[int]:
        """Take ids from the table's identity sequence, which all tenants share."""
        if count == 0:
            return []
        ids = await self.conn.fetchval(
            "SELECT array(SELECT nextval(pg_get_serial_sequence($1, 'id'))"
            " FROM generate_series(1, $2))",
            table,
            count,
        )
        return list(ids)

    async def _copy(self, table: str, columns: str, records: list[tuple[object, ...]]) -> None:
        """COPY records into table; columns: space-separated, after tenant_id."""
        if records:
            await self.conn.copy_records_to_table(
                table, records=records, columns=["tenant_id", *columns.split()]
            )
        self.counts[table] += len(records)

    async def staff(self, plan: Plan) -> list[int]:
        """The plan's users and their sessions, usage events, billing contacts and
        channel credentials; returns the users' ids."""
        self.user_ids = ids = await self._ids("users", len(plan.users))
        t, now = self.tenant_id, self.now
        # Parents before children: foreign keys are checked row by row.
        # fmt: off
        await self._copy("users", "id email name display_name password_hash profile_picture"
                         " is_owner created_at", [
            (t, ids[i], u.email, u.name, u.display_name, u.password_hash, plan.picture_keys[i],
             u.is_owner, now - u.age)
            for i, u in enumerate(plan.users)
        ])
        await self._copy("sessions", "user_id token_hash ip user_agent device_id created_at"
                         " expires_at", [
            (t, ids[s.user], s.token_hash, s.ip, s.user_agent, s.device_id, now - s.age,
             now + s.expires_in)
            for s in plan.sessions
        ])
        await self._copy("usage_events", "user_id event page ip user_agent device_id"
                         " occurred_at", [
            (t, ids[e.user], e.event, e.page, e.ip, e.user_agent, e.device_id, now - e.age)
            for e in plan.events
        ])
        await self._copy("billing_contacts", "user_id name email phone address vat_number", [
            (t, ids[b.user], b.name, b.email, b.phone, b.address, b.vat_number)
            for b in plan.billing
        ])
        await self._copy("channel_credentials", "user_id channel account secret created_at", [
            (t, ids[k.user], k.channel, k.account, k.secret, now - k.age)
            for k in plan.credentials
        ])
        # fmt: on
        return ids

    async def contacts(self, plan: Plan) -> Written:
        """The plan's contacts and their deals, notes, messages and files."""
        contact_ids = await self._ids("contacts", len(plan.contacts))
        deal_ids = await self._ids("deals", len(plan.deals))
        note_ids = await self._ids("notes", len(plan.notes))
        message_ids = await self._ids("messages", len(plan.messages))
        file_ids = await self._ids("files", len(plan.files))
        t, now, users = self.tenant_id, self.now, self.user_ids
        # fmt: off
        await self._copy("contacts", "id first_name last_name email phone address company"
                         " birthday custom_fields owner_user_id created_at", [
            (t, contact_ids[i], c.first_name, c.last_name, c.email, c.phone, c.address,
             c.company, c.birthday, c.custom_fields, _at(users, c.owner), now - c.age)
            for i, c in enumerate(plan.contacts)
        ])
        await self._copy("deals", "id contact_id title description amount currency stage"
                         " created_at", [
            (t, deal_ids[i], contact_ids[d.contact], d.title, d.description, d.amount,
             d.currency, d.stage, now - d.age)
            for i, d in enumerate(plan.deals)
        ])
        await self._copy("notes", "id contact_id deal_id author_user_id body created_at", [
            (t, note_ids[i], contact_ids[n.contact], _at(deal_ids, n.deal),
             _at(users, n.author), n.body, now - n.age)
            for i, n in enumerate(plan.notes)
        ])
        await self._copy("messages", "id channel contact_id user_id direction thread_id sender"
                         " recipients cc subject body sent_at", [
            (t, message_ids[i], m.channel, contact_ids[m.contact], _at(users, m.user),
             m.direction, m.thread_id, m.sender, list(m.recipients), list(m.cc), m.subject,
             m.body, now - m.age)
            for i, m in enumerate(plan.messages)
        ])
        await self._copy("files", "id contact_id message_id name content_type size_bytes sha256"
                         " blob_key created_at", [
            (t, file_ids[i], contact_ids[f.contact], _at(message_ids, f.message), f.name,
             f.content_type, len(f.data), hashlib.sha256(f.data).hexdigest(),
             plan.file_keys[i], now - f.age)
            for i, f in enumerate(plan.files)
        ])
        # fmt: on
        return Written(
            users=list(users),
            contacts=contact_ids,
            deals=deal_ids,
            notes=note_ids,
            messages=message_ids,
            files=file_ids,
        )
