"""The extension point: one Anonymizer per data type, and the values it works with."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Protocol

from anonymizers.records import Rendered
from anonymizers.text.fakes import Fakes
from anonymizers.text.identity import Identifiers
from anonymizers.text.matches import REDACTED, Replace
from anonymizers.text.phones import DEFAULT_REGION
from anonymizers.text.phones import parse as parse_phone
from anonymizers.text.redaction import Redactor
from anonymizers.text.replacements import fake_replacer
from db.connection import Connection

# What a batch does: the subject's identifiers replaced in others' free text
# (`redact_mentions`), or the subject's own rows erased or anonymized.
Operation = Literal["mentions", "erase", "anonymize"]


class Category(StrEnum):
    """What kind of data a column holds."""

    PERSON_NAME = "person name"
    EMAIL = "email"
    PHONE = "phone"
    POSTAL_ADDRESS = "postal address"
    BIRTHDAY = "birthday"
    FREE_TEXT = "free text"
    HANDLE = "channel address or handle"
    IP_ADDRESS = "IP address"
    USER_AGENT = "user agent"
    DEVICE_ID = "device id"
    SECRET = "secret"
    FILE_REFERENCE = "file reference"
    FILE_NAME = "file name"
    CUSTOM_FIELDS = "custom fields (JSON)"
    COMPANY = "company"
    TAX_ID = "tax id"
    BUSINESS = "business data"
    TECHNICAL = "technical"


class Action(StrEnum):
    """What Erase or Anonymize does to a column."""

    DELETE_ROW = "delete row"
    NULL = "null"
    FAKE = "fake"
    REDACT = "redact"
    TRUNCATE = "truncate"
    PSEUDONYMIZE = "pseudonymize"
    KEEP = "keep"


@dataclass(frozen=True)
class Column:
    """One line of the data map: a column, what it holds, what each right does to it."""

    table: str
    column: str
    category: Category
    erase: Action
    anonymize: Action
    reason: str = ""  # why a KEEP is right (e.g. legal retention); required for KEEP


@dataclass(frozen=True)
class Scope:
    """Whose data a job covers, resolved to row ids when the job was accepted."""

    tenant_id: str
    contact_ids: tuple[int, ...] = ()
    user_ids: tuple[int, ...] = ()
    whole_tenant: bool = False
    # Only records that happened in [records_after, records_before); None: unbounded.
    # Retention sets these, and only for anonymizers with `honours_period = True`.
    records_after: datetime | None = None
    records_before: datetime | None = None
    # One file's erasure (an operator deleting a file a job listed for review).
    file_ids: tuple[int, ...] = ()

    def by_contact(self) -> tuple[str, bool, list[int]]:
        """($1 tenant, $2 whole tenant?, $3 contact ids): the arguments of contact queries."""
        return self.tenant_id, self.whole_tenant, list(self.contact_ids)

    def by_user(self) -> tuple[str, bool, list[int]]:
        """($1 tenant, $2 whole tenant?, $3 user ids): the arguments of user queries."""
        return self.tenant_id, self.whole_tenant, list(self.user_ids)

    def by_user_in_period(
        self,
    ) -> tuple[str, bool, list[int], datetime | None, datetime | None]:
        """by_user() and ($4, $5) the period: the arguments of time-bounded user queries."""
        return (*self.by_user(), self.records_after, self.records_before)


@dataclass(frozen=True)
class Batch:
    """The next slice of a job's step for one data type.

    An operation on a data type may have several parts (tables, or kinds of rows),
    named by `Anonymizer.parts`; `part` says which one, and `after` the last row id
    done in it. At most `limit` rows per batch.
    """

    scope: Scope
    part: str
    after: int
    limit: int


@dataclass(frozen=True)
class BatchResult:
    """What one batch did, and where the next one starts: after `checkpoint` in the
    same part, or (`finished`) in the next part (steps.py moves on)."""

    processed: int
    checkpoint: int
    finished: bool  # the batch's part is done
    # Blobs whose rows this batch removed: deleted once the batch commits.
    blob_keys: tuple[str, ...] = field(default=())
    # New contents for blobs this batch anonymized: written once the batch commits.
    blob_rewrites: tuple[tuple[str, bytes], ...] = field(default=())
    # (blob key, id of the row that holds or held it) for blob_keys and blob_rewrites:
    # a blob the store keeps (Object Lock, a retention period) goes on the job's
    # needs_review by that row, as this anonymizer's data type. A blob with no row
    # here fails its job instead: nothing else could name it without its key.
    blob_rows: tuple[tuple[str, int], ...] = field(default=())
    # (file id, why): files that hold the subject but could not be rewritten safely;
    # the job lists them for an operator instead of pretending.
    needs_review: tuple[tuple[int, str], ...] = field(default=())
    # Files whose contents the blob store no longer holds: gone already, so nothing
    # to read, redact or delete; the batch's audit entry records their ids.
    missing_files: tuple[int, ...] = field(default=())


@dataclass(frozen=True)
class Tools:
    """What a batch may use besides its connection."""

    # Finds the subject's identifiers in free text. A whole tenant's erasure, which
    # deletes every row, gathers none: its redactor takes every email, phone number
    # and @handle, but no names.
    redactor: Redactor
    replace: Replace  # what an identifier becomes: [redacted] (erase) or a fake
    fakes: Fakes  # deterministic fakes with the tenant's key
    read_blobs: BlobReader
    region: str = DEFAULT_REGION  # where phone numbers without a country code are read
    # The tenant's secret: keys the token index of file contents (filetokens.py).
    tenant_key: bytes = b""

    @classmethod
    def for_job(
        cls,
        *,
        anonymize: bool,
        identifiers: Identifiers,
        whole_tenant: bool,
        fakes: Fakes,
        read_blobs: BlobReader,
        tenant_key: bytes = b"",
    ) -> Tools:
        """Erase replaces identifiers with [redacted]; anonymize with consistent fakes."""
        return cls(
            redactor=Redactor(identifiers, everyone=whole_tenant),
            replace=fake_replacer(fakes) if anonymize else (lambda _match: REDACTED),
            fakes=fakes,
            read_blobs=read_blobs,
            region=identifiers.region,
            tenant_key=tenant_key,
        )

    def fake_phone(self, written: str) -> str:
        """The fake of a phone number as written: keyed by its E.164 form, as the same
        number found in free text is."""
        parsed = parse_phone(written, self.region)
        return self.fakes.phone(parsed.e164 if parsed else written)


class BlobReader(Protocol):
    """Read blobs' contents, in the order of their keys (off the event loop): None
    for a key whose blob is gone. A key the store refuses (not the job's tenant's, or
    leaving the blob directory) raises, and fails the batch."""

    async def __call__(self, keys: Sequence[str]) -> list[bytes | None]: ...


class Anonymizer(Protocol):
    """Owns the tables of one data type and carries out the rights on them.

    Every method runs inside the transaction it is given and touches only rows of
    `scope.tenant_id`; it never commits, so a batch's change, its checkpoint and
    its audit entry commit together.
    """

    @property
    def data_type(self) -> str:
        """The name callers use in `data_types`, e.g. "messages"."""
        ...

    @property
    def stage(self) -> int:
        """Processing order within a step: lower first (rows that reference others go first)."""
        ...

    @property
    def columns(self) -> tuple[Column, ...]:
        """The data map of the tables this anonymizer owns."""
        ...

    @property
    def honours_period(self) -> bool:
        """Whether `Scope.records_after`/`records_before` bound its rows (retention
        asks only such data types to anonymize what is older than a cutoff)."""
        ...

    def parts(self, operation: Operation, scope: Scope) -> tuple[str, ...]:
        """The operation's parts, in order, by name (at least one). A job stores the
        name of the part it is in, and the parts it finished: parts may be added or
        reordered in a deploy while jobs are running; renaming one needs a migration
        of the stored names (an unknown name fails the job, never skips rows)."""
        ...

    async def identifiers(self, conn: Connection, scope: Scope) -> Identifiers:
        """What identifies the scope's subject in this data type (names, emails, handles…)."""
        ...

    def count_query(self, scope: Scope) -> tuple[str, tuple[Any, ...]]:
        """A query ($1, $2… parameters) and its arguments that count the scope's own
        rows `erase`/`anonymize` would touch. `counting.count_rows` asks all data
        types' queries in one statement."""
        ...

    async def redact_mentions(self, conn: Connection, batch: Batch, tools: Tools) -> BatchResult:
        """Replace the subject's identifiers in this type's free text, in any row of the tenant."""
        ...

    async def erase(self, conn: Connection, batch: Batch, tools: Tools) -> BatchResult:
        """Erase the next batch of the scope's own rows."""
        ...

    async def anonymize(self, conn: Connection, batch: Batch, tools: Tools) -> BatchResult:
        """Anonymize the next batch of the scope's own rows (structured columns)."""
        ...

    def export(self, conn: Connection, scope: Scope) -> AsyncIterator[dict[str, Any] | Rendered]:
        """Yield the scope's own records of this type: JSON-ready dicts, or JSON
        rendered by the database (`records.rendered`, the fast path). The files
        a rendered block names (`Rendered.file_ids`, `records.rendered_files`)
        have their contents exported too."""
        ...


async def counted_batch(
    conn: Connection, sql: str, args: tuple[Any, ...], batch: Batch
) -> BatchResult:
    """Run a batch query that answers (rows done, last id) for rows after the checkpoint."""
    row = await conn.fetchrow(sql, *args, batch.after, batch.limit)
    assert row is not None  # an aggregate always answers one row
    processed, last = int(row[0]), int(row[1])
    return BatchResult(processed=processed, checkpoint=last, finished=processed < batch.limit)
