"""The rows a plan holds: one type per CRM table, in the columns the writer copies.

Foreign keys are indexes, not ids (ids are only known once the writer allocates
them): users count from the writer's first user, contacts, deals and messages
from the plan's first. Times are ages before the writer's "now". Fields with a
default are the ones the schema lets a row leave empty (or defaults itself).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

NOW = timedelta(0)


@dataclass(frozen=True, slots=True)
class UserRow:
    email: str
    name: str
    display_name: str | None = None
    password_hash: str | None = None
    picture: bytes | None = None  # stored as a blob; the row keeps its key
    is_owner: bool = False
    age: timedelta = NOW


@dataclass(frozen=True, slots=True)
class ContactRow:
    first_name: str
    last_name: str
    email: str
    phone: str
    address: str | None = None
    company: str | None = None
    birthday: date | None = None
    custom_fields: str = "{}"  # JSON text: what asyncpg's jsonb codec takes
    owner: int | None = None
    age: timedelta = NOW


@dataclass(frozen=True, slots=True)
class DealRow:
    contact: int
    title: str
    description: str | None = None
    amount: Decimal = Decimal(0)
    currency: str = "USD"
    stage: str = "open"
    age: timedelta = NOW


@dataclass(frozen=True, slots=True)
class NoteRow:
    contact: int
    body: str
    deal: int | None = None
    author: int | None = None
    age: timedelta = NOW


@dataclass(frozen=True, slots=True)
class MessageRow:
    channel: str
    contact: int
    direction: str
    sender: str
    body: str
    user: int | None = None
    thread_id: str | None = None
    recipients: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    subject: str | None = None
    age: timedelta = NOW


@dataclass(frozen=True, slots=True)
class FileRow:
    contact: int
    name: str
    content_type: str
    data: bytes  # stored as a blob; the row keeps its key, size and SHA-256
    message: int | None = None
    age: timedelta = NOW


@dataclass(frozen=True, slots=True)
class SessionRow:
    user: int
    token_hash: str
    ip: str
    user_agent: str
    device_id: str
    expires_in: timedelta
    age: timedelta = NOW


@dataclass(frozen=True, slots=True)
class EventRow:
    user: int
    event: str
    page: str
    ip: str
    user_agent: str
    device_id: str
    age: timedelta = NOW


@dataclass(frozen=True, slots=True)
class BillingRow:
    user: int
    name: str
    email: str
    phone: str
    address: str
    vat_number: str | None = None


@dataclass(frozen=True, slots=True)
class CredentialRow:
    user: int
    channel: str
    account: str
    secret: str
    age: timedelta = NOW


@dataclass
class Plan:
    """Rows to insert, parents before children in each list's references."""

    users: list[UserRow] = field(default_factory=list)
    contacts: list[ContactRow] = field(default_factory=list)
    deals: list[DealRow] = field(default_factory=list)
    notes: list[NoteRow] = field(default_factory=list)
    messages: list[MessageRow] = field(default_factory=list)
    files: list[FileRow] = field(default_factory=list)
    sessions: list[SessionRow] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)
    billing: list[BillingRow] = field(default_factory=list)
    credentials: list[CredentialRow] = field(default_factory=list)
    # Blob keys of users' pictures (None: no picture) and of files, once stored.
    picture_keys: list[str | None] = field(default_factory=list)
    file_keys: list[str] = field(default_factory=list)
