"""Callers and their bearer tokens: who may call, for what, on which tenants.

A token is 256 random bits; only its SHA-256 is stored (a plain hash is enough for
a secret that long, and it makes the lookup one indexed equality). The token itself
is shown once, when it is created.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from db.connection import Connection
from server.errors import AlreadyExists, InvalidArgument, NotFound
from server.queries import Q

TOKEN_PREFIX = "prv_"
ALL_TENANTS = "*"
DEV_CREDENTIAL = "dev"
_NAME = re.compile(r"[a-z0-9][a-z0-9._:-]{0,63}")
# The longest tenant id a credential may be given for (a bound on what is stored).
_MAX_TENANT_ID = 128


class Scope(StrEnum):
    """What a caller may do. Each RPC needs one (server.auth.METHOD_SCOPES)."""

    ERASE = "erase"
    ERASE_TENANT = "erase.tenant"  # whole-tenant Erase, on top of erase
    ANONYMIZE = "anonymize"
    EXPORT = "export"
    JOBS_READ = "jobs.read"
    JOBS_CANCEL = "jobs.cancel"
    HOLD = "hold"
    AUDIT_READ = "audit.read"
    SUPPRESSION_READ = "suppression.read"  # CheckSuppression, ListSuppressions
    SUPPRESSION_WRITE = "suppression.write"  # Suppress, Unsuppress
    LOOKUP = "lookup"  # FindSubjects: the ids an email or a phone number names


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: its name goes into the audit log as the actor."""

    name: str
    scopes: frozenset[Scope]
    tenants: frozenset[str]  # ALL_TENANTS in it: every tenant

    def may_see(self, tenant_id: str) -> bool:
        return self.sees_every_tenant or tenant_id in self.tenants

    @property
    def sees_every_tenant(self) -> bool:
        return ALL_TENANTS in self.tenants


@dataclass(frozen=True)
class Credential:
    """A stored credential, as `privacyctl credentials list` shows it (no token)."""

    caller: Caller
    created_at: datetime
    revoked_at: datetime | None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def parse_scopes(names: Iterable[str]) -> frozenset[Scope]:
    scopes = set()
    for name in names:
        try:
            scopes.add(Scope(name))
        except ValueError:
            known = ", ".join(s.value for s in Scope)
            raise InvalidArgument("scopes", f"unknown scope {name!r}; known: {known}") from None
    if not scopes:
        raise InvalidArgument("scopes", "give at least one scope")
    return frozenset(scopes)


async def authenticate(conn: Connection, token: str) -> Caller | None:
    """The caller a token belongs to, or None for an unknown or revoked token."""
    row = await conn.fetchrow(Q["authenticate"], token_hash(token))
    return None if row is None else _caller(row["name"], row["scopes"], row["tenants"])


async def create(
    conn: Connection, name: str, scopes: frozenset[Scope], tenants: Iterable[str]
) -> str:
    """Store a new credential and return its token (shown once, never stored)."""
    if not _NAME.fullmatch(name):
        raise InvalidArgument(
            "name", "use 1-64 lowercase letters, digits and . _ : - (a service's name)"
        )
    tenant_list = sorted(set(tenants))
    if not tenant_list or any(not t or len(t) > _MAX_TENANT_ID for t in tenant_list):
        raise InvalidArgument("tenants", f"give tenant ids, or {ALL_TENANTS!r} for every tenant")
    token = new_token()
    inserted = await conn.fetchval(
        Q["insert_credential"],
        name,
        token_hash(token),
        sorted(s.value for s in scopes),
        tenant_list,
    )
    if inserted is None:
        raise AlreadyExists(
            f"a credential named {name!r} exists already; revoke it or pick another name"
        )
    return token


async def create_dev_credential(conn: Connection) -> str | None:
    """A credential with every scope on every tenant, when there is no credential at
    all yet (a new development database); else None. Concurrent first starts make one."""
    token = new_token()
    created = await conn.fetchval(
        Q["insert_first_credential"],
        DEV_CREDENTIAL,
        token_hash(token),
        [s.value for s in Scope],
        [ALL_TENANTS],
    )
    return None if created is None else token


async def revoke(conn: Connection, name: str) -> None:
    revoked = await conn.fetchval(Q["revoke_credential"], name)
    if revoked is None:
        raise NotFound(f"no active credential named {name!r}")


async def list_credentials(conn: Connection) -> list[Credential]:
    rows = await conn.fetch(Q["list_credentials"])
    return [
        Credential(
            caller=_caller(r["name"], r["scopes"], r["tenants"]),
            created_at=r["created_at"],
            revoked_at=r["revoked_at"],
        )
        for r in rows
    ]


def _caller(name: str, scopes: list[str], tenants: list[str]) -> Caller:
    # A scope this version does not know (written by a newer one) grants nothing.
    known = {s.value for s in Scope}
    return Caller(
        name=name,
        scopes=frozenset(Scope(s) for s in scopes if s in known),
        tenants=frozenset(tenants),
    )
