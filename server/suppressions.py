"""The suppression list: identifiers erased here (or never to be stored) that the
services feeding the CRM must not bring back.

An entry is the keyed hash (HMAC-SHA256 with the tenant's key) of the normalized
identifier: emails casefolded, phone numbers as E.164 read in the tenant's region.
Nothing else of the identifier is stored, logged or counted: a leaked table is no
list of erased emails, and a whole tenant's erasure, which destroys its key, drops
its entries with it (job_end).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from anonymizers.text import phones
from anonymizers.text.identity import Identifiers
from db.connection import Connection
from server.queries import Q

# At most this many identifiers per call (CheckSuppression, Suppress, Unsuppress).
MAX_IDENTIFIERS = 1000
# RFC 5321's limit of an address; longer is no email.
_MAX_EMAIL = 254
_EMAIL = re.compile(
    r"[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f]+\.[^@\s\x00-\x1f\x7f-\x9f]+"
)
# A control character (a line break, NUL, an escape) is in no phone number; nor is
# text this long (the parser's work grows with it).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_MAX_PHONE = 64
# Separates these hashes from the subject hashes made with the same key.
_DOMAIN = b"atomicrm.privacy suppression\x00"


class IdentifierKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"


@dataclass(frozen=True)
class Identifier:
    """An email or a phone number as a caller wrote it."""

    kind: IdentifierKind
    value: str


@dataclass(frozen=True)
class Entry:
    """One suppressed identifier, as ListSuppressions shows it."""

    identifier_hash: bytes
    kind: IdentifierKind
    created_at: datetime
    reason_code: str
    job_id: uuid.UUID | None
    actor: str


def normalized(identifier: Identifier, region: str) -> str | None:
    """The form an identifier is compared in: an email casefolded (the exact address:
    "jane+news@example.com" is not "jane@example.com", a provider's own rules about
    dots and tags are not guessed), a phone number as E.164 (read in `region` without
    a country code); None when it is neither."""
    value = identifier.value.strip()
    if identifier.kind is IdentifierKind.EMAIL:
        email = value.casefold()
        if len(email) > _MAX_EMAIL or not _EMAIL.fullmatch(email):
            return None
        return email
    if len(value) > _MAX_PHONE or _CONTROL.search(value):
        return None
    phone = phones.parse(value, region)
    return phone.e164 if phone else None


def identifier_hash(key: bytes, kind: IdentifierKind, normal: str) -> bytes:
    """The keyed hash an entry is stored as (of the normalized identifier)."""
    return _hasher(key)(kind, normal)


def _hasher(key: bytes) -> Callable[[IdentifierKind, str], bytes]:
    """identifier_hash for many identifiers of one key: the key's HMAC state is made
    once and copied for each (a profile of CheckSuppression had 14% of the server's
    time in hmac.new, mostly setting the key up 100 times a call)."""
    keyed = hmac.new(key, _DOMAIN, hashlib.sha256)

    def digest(kind: IdentifierKind, normal: str) -> bytes:
        mac = keyed.copy()
        mac.update(f"{kind.value}:{normal}".encode())
        return mac.digest()

    return digest


@dataclass(frozen=True)
class Hashed:
    """Identifiers as hashes, in request order; `invalid`: the indexes that are
    neither an email nor a phone number (no hash)."""

    hashes: tuple[bytes | None, ...]
    kinds: tuple[IdentifierKind, ...]
    invalid: tuple[int, ...]


def hashed(identifiers: Sequence[Identifier], key: bytes, region: str) -> Hashed:
    digest = _hasher(key)
    hashes: list[bytes | None] = []
    invalid: list[int] = []
    for i, identifier in enumerate(identifiers):
        normal = normalized(identifier, region)
        if normal is None:
            invalid.append(i)
            hashes.append(None)
        else:
            hashes.append(digest(identifier.kind, normal))
    return Hashed(tuple(hashes), tuple(i.kind for i in identifiers), tuple(invalid))


async def check(conn: Connection, tenant_id: str, hashes: Sequence[bytes | None]) -> list[bool]:
    """Whether each hash is suppressed in the tenant (None: no identifier, False)."""
    wanted = [h for h in hashes if h is not None]
    found = {
        bytes(r["identifier_hash"])
        for r in await conn.fetch(Q["suppressions_found"], tenant_id, wanted)
    }
    return [h is not None and h in found for h in hashes]


async def add(
    conn: Connection,
    tenant_id: str,
    entries: Iterable[tuple[bytes, IdentifierKind]],
    *,
    reason_code: str,
    actor: str,
    job_id: uuid.UUID | None = None,
) -> int:
    """Suppress these hashes; an entry that exists stays as it was. Answers how many
    are new."""
    unique = dict(entries)
    if not unique:
        return 0
    added: int = await conn.fetchval(
        Q["suppress"],
        tenant_id,
        list(unique),
        [kind.value for kind in unique.values()],
        reason_code,
        job_id,
        actor,
    )
    return added


async def remove(conn: Connection, tenant_id: str, hashes: Iterable[bytes]) -> int:
    """Lift these suppressions; answers how many there were."""
    removed: int = await conn.fetchval(Q["unsuppress"], tenant_id, list(set(hashes)))
    return removed


def of_identifiers(ids: Identifiers, key: bytes, region: str) -> list[tuple[bytes, IdentifierKind]]:
    """The entries that suppress a subject's emails and phone numbers (those of its
    own rows an Erase gathered)."""
    found = [Identifier(IdentifierKind.EMAIL, e) for e in ids.emails]
    found += [Identifier(IdentifierKind.PHONE, p) for p in ids.phones]
    result = hashed(found, key, region)
    return [(h, k) for h, k in zip(result.hashes, result.kinds, strict=True) if h is not None]


async def listing(
    conn: Connection,
    tenant_id: str,
    *,
    after: tuple[datetime, bytes] | None,
    limit: int,
) -> list[Entry]:
    """The tenant's entries, newest first, after a (created_at, hash) cursor."""
    rows = await conn.fetch(
        Q["suppressions_page"],
        tenant_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [
        Entry(
            identifier_hash=bytes(r["identifier_hash"]),
            kind=IdentifierKind(r["kind"]),
            created_at=r["created_at"],
            reason_code=r["reason_code"],
            job_id=r["job_id"],
            actor=r["actor"],
        )
        for r in rows
    ]


async def lift_job(conn: Connection, tenant_id: str, job_id: uuid.UUID) -> int:
    """Lift the entries an erasure made, when it is called off (cancelled): the
    person was not erased, and must not be kept out. Answers how many there were."""
    lifted: int = await conn.fetchval(Q["lift_job_suppressions"], tenant_id, job_id)
    return lifted


async def drop_tenant(conn: Connection, tenant_id: str) -> None:
    """Forget every entry of a tenant whose key is destroyed (they could no longer
    be checked, and must not be linkable to anyone)."""
    await conn.execute(Q["drop_suppressions"], tenant_id)
