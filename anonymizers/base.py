"""The extension point: one Anonymizer per data type, and the values it works with."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

# A plain connection or one borrowed from a pool: anonymizers accept either.
Connection: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any]"


class Category(StrEnum):
    """What kind of data a column holds."""

    PERSON_NAME = "person name"
    EMAIL = "email"
    PHONE = "phone"
    POSTAL_ADDRESS = "postal address"
    BIRTHDAY = "birthday"
    FREE_TEXT = "free text"
    HANDLE = "channel handle"
    IP_ADDRESS = "IP address"
    USER_AGENT = "user agent"
    DEVICE_ID = "device id"
    SECRET = "secret"
    FILE_REFERENCE = "file reference"
    FILE_NAME = "file name"
    CUSTOM_FIELDS = "custom fields (JSON)"
    BUSINESS = "business data"
    COMPANY = "company"


class Action(StrEnum):
    """What Erase or Anonymize does to a column."""

    DELETE_ROW = "delete row"
    NULL = "null"
    FAKE = "fake"
    REDACT = "redact"
    KEEP = "keep"


@dataclass(frozen=True)
class Column:
    """One line of the data map: a column, what it holds, what each right does to it."""

    table: str
    column: str
    category: Category
    erase: Action
    anonymize: Action
    reason: str = ""  # why a KEEP is allowed (e.g. legal retention)


@dataclass(frozen=True)
class Scope:
    """Whose data a job covers, resolved to row ids when the job was accepted."""

    tenant_id: str
    contact_ids: tuple[int, ...] = ()
    user_ids: tuple[int, ...] = ()
    whole_tenant: bool = False


@dataclass(frozen=True)
class Batch:
    """The next slice of a job for one data type: rows after `after`, at most `limit`."""

    scope: Scope
    after: int
    limit: int


@dataclass(frozen=True)
class BatchResult:
    """What one batch did, and where the next one starts."""

    processed: int
    checkpoint: int
    finished: bool
    # Blobs whose rows this batch removed: deleted once the batch commits.
    blob_keys: tuple[str, ...] = field(default=())


class Anonymizer(Protocol):
    """Owns the tables of one data type and carries out the rights on them.

    Every method runs inside the transaction it is given and touches only rows of
    `scope.tenant_id`; it never commits, so a batch's change, checkpoint and
    audit entry commit together.
    """

    @property
    def data_type(self) -> str:
        """The name callers use in `data_types`, e.g. "messages"."""
        ...

    @property
    def stage(self) -> int:
        """Processing order within a job: lower first (rows that reference others go first)."""
        ...

    @property
    def columns(self) -> tuple[Column, ...]:
        """The data map of the tables this anonymizer owns."""
        ...

    async def count(self, conn: Connection, scope: Scope) -> int:
        """Return how many rows of the scope this data type would touch."""
        ...

    async def erase(self, conn: Connection, batch: Batch) -> BatchResult:
        """Erase the next batch of the scope's rows."""
        ...
