"""The suppression list's RPCs, below gRPC: check, suppress, lift, list.

Each call takes one connection and reads its tenant with one statement (exists?
its key, its phone region: `suppression_context`); a check is then one more
statement for all its identifiers, a change one more and its audit entry, in one
transaction. What is stored, audited and answered is the keyed hash, never the
identifier (server/suppressions.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from db.connection import Connection
from server import audit, pagetokens, suppressions, tenant_keys
from server.audit import AuditEntry
from server.errors import InvalidArgument
from server.job_model import ReasonCode
from server.keyring import Keyring
from server.queries import Q
from server.suppressions import Entry, Identifier, IdentifierKind
from server.tenancy import enter_tenant, no_such_tenant


@dataclass(frozen=True)
class _Tenant:
    key: bytes | None  # None: the tenant has no key yet, so no entries
    region: str


@dataclass(frozen=True)
class Checked:
    """CheckSuppression's answer: one flag per identifier, in request order, and the
    indexes of those that are neither an email nor a phone number."""

    suppressed: list[bool]
    invalid: tuple[int, ...]


async def _tenant(
    conn: Connection, tenant_id: str, keyring: Keyring, default_region: str, *, make_key: bool
) -> _Tenant:
    """NotFound when there is no such tenant. `make_key`: make its key on first use
    (else a tenant without one has key None)."""
    wrapped = tenant_keys.new_wrapped(keyring, tenant_id) if make_key else None
    row = await conn.fetchrow(Q["suppression_context"], tenant_id, wrapped, keyring.key_id)
    assert row is not None
    if not row["tenant_exists"]:
        raise no_such_tenant(tenant_id)
    region = row["phone_region"] or default_region
    if row["key"] is not None or row["wrapped"] is not None:
        return _Tenant(tenant_keys.unwrap(keyring, tenant_id, row), region)
    if make_key:  # made by a concurrent first use meanwhile
        return _Tenant(await tenant_keys.tenant_key(conn, tenant_id, keyring), region)
    return _Tenant(None, region)


async def check(
    conn: Connection,
    tenant_id: str,
    identifiers: Sequence[Identifier],
    *,
    keyring: Keyring,
    default_region: str,
) -> Checked:
    """Whether each identifier is suppressed: two statements, whatever their number.
    Reads only: a tenant without a key (none made yet) suppresses nothing."""
    tenant = await _tenant(conn, tenant_id, keyring, default_region, make_key=False)
    if tenant.key is None:
        normal = [suppressions.normalized(x, tenant.region) for x in identifiers]
        invalid = tuple(i for i, n in enumerate(normal) if n is None)
        return Checked([False] * len(identifiers), invalid)
    result = suppressions.hashed(identifiers, tenant.key, tenant.region)
    return Checked(await suppressions.check(conn, tenant_id, result.hashes), result.invalid)


async def _valid_hashes(
    conn: Connection,
    tenant_id: str,
    identifiers: Sequence[Identifier],
    keyring: Keyring,
    default_region: str,
) -> list[tuple[bytes, IdentifierKind]]:
    """Every identifier's hash (the key made on first use); InvalidArgument naming the
    first that is neither an email nor a phone number in the tenant's region."""
    tenant = await _tenant(conn, tenant_id, keyring, default_region, make_key=True)
    assert tenant.key is not None
    result = suppressions.hashed(identifiers, tenant.key, tenant.region)
    if result.invalid:
        i = result.invalid[0]
        what = (
            "an email address"
            if identifiers[i].kind is IdentifierKind.EMAIL
            else f"a phone number (read in the tenant's region, {tenant.region})"
        )
        raise InvalidArgument(
            f"identifiers[{i}].{identifiers[i].kind.value}",
            f"is not {what}; nothing was changed",
        )
    return [(h, k) for h, k in zip(result.hashes, result.kinds, strict=True) if h is not None]


async def suppress(
    conn: Connection,
    tenant_id: str,
    identifiers: Sequence[Identifier],
    *,
    reason_code: ReasonCode,
    actor: str,
    keyring: Keyring,
    default_region: str,
) -> int:
    """Suppress identifiers (all valid, or none is written); audited
    "suppression.added" in the same transaction. Answers how many are new."""
    async with conn.transaction():
        await enter_tenant(conn, tenant_id)
        entries = await _valid_hashes(conn, tenant_id, identifiers, keyring, default_region)
        added = await suppressions.add(
            conn, tenant_id, entries, reason_code=reason_code.value, actor=actor
        )
        await audit.append(
            conn,
            AuditEntry(
                tenant_id=tenant_id,
                actor=actor,
                action="suppression.added",
                details=_details(entries, reason_code, added=added),
            ),
        )
    return added


async def unsuppress(
    conn: Connection,
    tenant_id: str,
    identifiers: Sequence[Identifier],
    *,
    reason_code: ReasonCode,
    actor: str,
    keyring: Keyring,
    default_region: str,
) -> int:
    """Lift suppressions; audited "suppression.removed" in the same transaction.
    Answers how many there were."""
    async with conn.transaction():
        await enter_tenant(conn, tenant_id)
        entries = await _valid_hashes(conn, tenant_id, identifiers, keyring, default_region)
        removed = await suppressions.remove(conn, tenant_id, (h for h, _ in entries))
        await audit.append(
            conn,
            AuditEntry(
                tenant_id=tenant_id,
                actor=actor,
                action="suppression.removed",
                details=_details(entries, reason_code, removed=removed),
            ),
        )
    return removed


def _details(
    entries: Sequence[tuple[bytes, IdentifierKind]], reason_code: ReasonCode, **counts: int
) -> dict[str, object]:
    """An audit entry's details: counts, the code and the keyed hashes, never an
    identifier (the audit log is kept forever; the hashes are unlinkable once the
    tenant's key is destroyed)."""
    hashes = sorted({h.hex() for h, _ in entries})
    return {"count": len(hashes), **counts, "reason_code": reason_code.value, "hashes": hashes}


async def listing(
    conn: Connection,
    tenant_id: str,
    *,
    page_size: int,
    page_token: str,
    keyring: Keyring,
    default_region: str,
) -> tuple[list[Entry], str]:
    """One page of the tenant's entries, newest first, and the next page's token
    (signed for this tenant's listing: server/pagetokens.py)."""
    listing_of = ("ListSuppressions", tenant_id)
    tenant = await _tenant(conn, tenant_id, keyring, default_region, make_key=False)
    key = pagetokens.signing_key(tenant.key) if tenant.key is not None else None
    if key is None:  # no key: no entries, and no token was ever made
        if page_token:
            raise InvalidArgument("page_token", "is not a token from ListSuppressions")
        return [], ""
    after = pagetokens.read_entry(key, listing_of, page_token) if page_token else None
    rows = await suppressions.listing(
        conn,
        tenant_id,
        after=(after.created_at, after.identifier_hash) if after else None,
        limit=page_size + 1,  # one more tells whether there is a next page
    )
    page = rows[:page_size]
    if len(rows) <= page_size:
        return page, ""
    last = page[-1]
    cursor = pagetokens.EntryCursor(last.created_at, last.identifier_hash)
    return page, pagetokens.make_entry(key, listing_of, cursor)
