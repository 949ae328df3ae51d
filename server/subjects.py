"""Subjects: normalize what a request names, hash it with the tenant's key, resolve it."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from anonymizers.base import Scope
from anonymizers.text import phones
from db.connection import Connection
from server.errors import InvalidArgument, NotFound
from server.queries import Q


class SubjectKind(StrEnum):
    CONTACT_ID = "contact_id"
    EMAIL = "email"
    PHONE = "phone"
    USER_ID = "user_id"
    WHOLE_TENANT = "whole_tenant"
    FILE_ID = "file_id"


@dataclass(frozen=True)
class Subject:
    """A validated subject: its kind and its normalized value."""

    kind: SubjectKind
    # Contact, user or file id as text, lowercased email, the phone number as written
    # (E.164 once read in the tenant's region: `in_region`), or the tenant id.
    value: str

    def canonical(self) -> str:
        return f"{self.kind.value}:{self.value}"

    def in_region(self, region: str) -> Subject:
        """The subject with a phone number read in the tenant's region, as E.164:
        "+1 207 946 0958" and "(207) 946-0958" are one subject in a US tenant."""
        if self.kind is not SubjectKind.PHONE:
            return self
        phone = phones.parse(self.value, region)
        if phone is None:
            raise InvalidArgument(
                "subject.phone", f"is not a phone number in the tenant's region ({region})"
            )
        return Subject(SubjectKind.PHONE, phone.e164)


@dataclass(frozen=True)
class Resolved:
    """A subject turned into the rows it covers."""

    subject_kind: str  # 'contact', 'user', 'person' (both), 'tenant' or 'file'
    contact_ids: tuple[int, ...] = ()
    user_ids: tuple[int, ...] = ()
    whole_tenant: bool = False
    file_ids: tuple[int, ...] = ()

    def scope(
        self,
        tenant_id: str,
        *,
        records_after: datetime | None = None,
        records_before: datetime | None = None,
    ) -> Scope:
        """The scope these rows make in `tenant_id` (within a period, when given)."""
        return Scope(
            tenant_id=tenant_id,
            contact_ids=self.contact_ids,
            user_ids=self.user_ids,
            whole_tenant=self.whole_tenant,
            records_after=records_after,
            records_before=records_before,
            file_ids=self.file_ids,
        )


def subject_hash(key: bytes, subject: Subject) -> str:
    """Keyed hash of a subject: the same person gives the same hash within a tenant."""
    return hmac.new(key, subject.canonical().encode(), hashlib.sha256).hexdigest()


async def _ids(conn: Connection, query: str, *args: object) -> tuple[int, ...]:
    return tuple(r["id"] for r in await conn.fetch(Q[query], *args))


async def resolve(conn: Connection, tenant_id: str, subject: Subject, region: str) -> Resolved:
    """Find the rows a subject covers; NotFound when there are none. `region`: where
    phone numbers without a country code are read (the subject's and the stored)."""
    contacts: tuple[int, ...] = ()
    users: tuple[int, ...] = ()
    if subject.kind is SubjectKind.WHOLE_TENANT:
        return Resolved(subject_kind="tenant", whole_tenant=True)
    if subject.kind is SubjectKind.FILE_ID:
        files = await _ids(conn, "files_by_id", tenant_id, int(subject.value))
        if not files:
            raise NotFound(f"no file in tenant {tenant_id!r} matches subject.file_id")
        return Resolved(subject_kind="file", file_ids=files)
    if subject.kind is SubjectKind.CONTACT_ID:
        contacts = await _ids(conn, "contacts_by_id", tenant_id, int(subject.value))
    elif subject.kind is SubjectKind.EMAIL:
        row = await conn.fetchrow(Q["people_by_email"], tenant_id, subject.value)
        assert row is not None  # a SELECT without FROM answers one row
        contacts, users = tuple(row["contact_ids"]), tuple(row["user_ids"])
    elif subject.kind is SubjectKind.PHONE:
        contacts = await _contacts_by_phone(conn, tenant_id, subject.in_region(region), region)
    elif subject.kind is SubjectKind.USER_ID:
        users = await _ids(conn, "users_by_id", tenant_id, int(subject.value))
    if not (contacts or users):
        # Names the field, never the value: messages carry no personal data.
        raise NotFound(
            f"no contact or user account in tenant {tenant_id!r} matches "
            f"subject.{subject.kind.value}"
        )
    kind = "person" if contacts and users else "contact" if contacts else "user"
    return Resolved(subject_kind=kind, contact_ids=contacts, user_ids=users)


async def _contacts_by_phone(
    conn: Connection, tenant_id: str, subject: Subject, region: str
) -> tuple[int, ...]:
    """The contacts whose stored number is the subject's E.164 number: looked up by
    every digit string it can be written as, then each read in the region."""
    wanted = phones.parse(subject.value, region)
    if wanted is None:
        return ()
    rows = await conn.fetch(Q["contacts_by_phone"], tenant_id, phones.stored_forms(wanted, region))
    return tuple(
        r["id"]
        for r in rows
        if (found := phones.parse(r["phone"], region)) and found.e164 == wanted.e164
    )
