"""What the tenant says about a subject's identifiers: who else could a name form be,
whose address is it too. Read when a job is planned, beside the identifiers."""

from __future__ import annotations

from dataclasses import replace

from anonymizers.base import Scope
from anonymizers.text import tokens
from anonymizers.text.identity import Identifiers, Name
from anonymizers.text.normalize import WORD, fold
from db.connection import Connection
from db.queries import load_queries

_SQL = load_queries("anonymizers.text", "context.sql")

# An address is looked for from this many words up: one word alone is too common.
_MIN_ADDRESS_WORDS = 2


async def phone_region(conn: Connection, tenant_id: str, default: str) -> str:
    """The region a tenant's phone numbers without a country code are read in."""
    region: str | None = await conn.fetchval(_SQL["phone_region"], tenant_id)
    return region or default


async def with_context(
    conn: Connection, scope: Scope, ids: Identifiers, *, region: str, tenant_key: bytes
) -> Identifiers:
    """The identifiers with the tenant's context: region, namesakes, shared addresses.

    A whole tenant needs none: everyone in it is the subject."""
    if scope.whole_tenant:
        return replace(ids, region=region)
    return replace(
        ids,
        region=region,
        namesakes=await _namesakes(conn, scope, ids),
        shared_addresses=await _shared_addresses(conn, scope, ids, tenant_key),
    )


async def _namesakes(
    conn: Connection, scope: Scope, ids: Identifiers
) -> tuple[tuple[str, ...], ...]:
    """The name words of other people who share a family-name word with the subject."""
    family = set(ids.family_words())
    if not family:
        return ()
    # The index holds letter runs ("o'brien" is o, brien): asked for the longest.
    runs = sorted({max(_letter_runs(w), key=len) for w in family if _letter_runs(w)})
    if not runs:
        return ()
    rows = await conn.fetch(
        _SQL["namesakes"], scope.tenant_id, runs, list(scope.contact_ids), list(scope.user_ids)
    )
    found: dict[tuple[str, ...], None] = {}
    for r in rows:
        name = Name.of(r["first_name"], r["last_name"]) if r["first_name"] else None
        name = name or Name.parse(r["last_name"])
        if name is None:
            continue
        every = name.all_words()
        if family & set(every):
            found[every] = None
    return tuple(found)


def _letter_runs(word: str) -> list[str]:
    return [run for run in fold(word).replace("'", " ").split() if run.isascii()]


async def _shared_addresses(
    conn: Connection, scope: Scope, ids: Identifiers, tenant_key: bytes
) -> tuple[str, ...]:
    """The subject's addresses that another contact or billing contact has too."""
    shared = []
    for address in ids.addresses:
        key = _address_key(address)
        if len(key) < _MIN_ADDRESS_WORDS:
            continue
        query = tokens.name_clause(key)
        others: list[str] = []
        if query is not None:
            rows = await conn.fetch(
                _SQL["contact_addresses"],
                scope.tenant_id,
                tokens.keyed(tenant_key, [query]),
                list(scope.contact_ids),
                tenant_key,
            )
            others += [r["address"] for r in rows]
        rows = await conn.fetch(_SQL["billing_addresses"], scope.tenant_id, list(scope.user_ids))
        others += [r["address"] for r in rows]
        if any(_address_key(o) == key for o in others):
            shared.append(address)
    return tuple(shared)


def _address_key(address: str) -> tuple[str, ...]:
    return tuple(WORD.findall(fold(address)))
