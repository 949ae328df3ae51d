"""User accounts: profile, billing contact, channel credentials, sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from anonymizers.api import (
    Action,
    Batch,
    BatchResult,
    Category,
    Column,
    Connection,
    Identifiers,
    Name,
    Operation,
    Rendered,
    Scope,
    Tools,
    counted_batch,
    load_queries,
    rendered,
)
from anonymizers.text.clear_fakes import fake_address
from anonymizers.text.devices import generalize_user_agent, truncate_ip
from anonymizers.text.phones import CANDIDATE
from anonymizers.text.replacements import fake_full_name

_SQL = load_queries("anonymizers.builtin.sql", "accounts.sql")
# Erase and anonymize: rows that reference a user first, the users last.
_PARTS = ("credentials", "billing_contacts", "sessions", "users")
# Erasing a part that is not `users`: one statement each.
_ERASE = {
    "credentials": "destroy_credentials",
    "billing_contacts": "erase_billing",
    "sessions": "erase_sessions",
}


class AccountsAnonymizer:
    """A user account and what hangs off it."""

    data_type = "accounts"
    stage = 95  # last: contacts, notes, messages and files reference users
    honours_period = False
    columns = (
        Column(
            "tenants",
            "name",
            Category.COMPANY,
            Action.KEEP,
            Action.KEEP,
            "the tenant's company name: not a person",
        ),
        Column("users", "name", Category.PERSON_NAME, Action.DELETE_ROW, Action.FAKE),
        Column("users", "email", Category.EMAIL, Action.DELETE_ROW, Action.FAKE),
        Column("users", "display_name", Category.PERSON_NAME, Action.DELETE_ROW, Action.FAKE),
        Column("users", "password_hash", Category.SECRET, Action.DELETE_ROW, Action.NULL),
        Column("users", "profile_picture", Category.FILE_REFERENCE, Action.DELETE_ROW, Action.NULL),
        Column("billing_contacts", "name", Category.PERSON_NAME, Action.DELETE_ROW, Action.FAKE),
        Column("billing_contacts", "email", Category.EMAIL, Action.DELETE_ROW, Action.FAKE),
        Column("billing_contacts", "phone", Category.PHONE, Action.DELETE_ROW, Action.FAKE),
        Column(
            "billing_contacts", "address", Category.POSTAL_ADDRESS, Action.DELETE_ROW, Action.FAKE
        ),
        Column(
            "billing_contacts",
            "vat_number",
            Category.TAX_ID,
            Action.DELETE_ROW,
            Action.KEEP,
            "legal retention: tax records of the tenant's company, not of a person",
        ),
        Column(
            "channel_credentials",
            "channel",
            Category.TECHNICAL,
            Action.DELETE_ROW,
            Action.DELETE_ROW,
        ),
        Column(
            "channel_credentials", "account", Category.HANDLE, Action.DELETE_ROW, Action.DELETE_ROW
        ),
        Column(
            "channel_credentials", "secret", Category.SECRET, Action.DELETE_ROW, Action.DELETE_ROW
        ),
        Column(
            "sessions",
            "token_hash",
            Category.SECRET,
            Action.DELETE_ROW,
            Action.KEEP,
            "a hash of a token that anonymize revokes; useless once revoked",
        ),
        Column("sessions", "ip", Category.IP_ADDRESS, Action.DELETE_ROW, Action.TRUNCATE),
        Column("sessions", "user_agent", Category.USER_AGENT, Action.DELETE_ROW, Action.TRUNCATE),
        Column("sessions", "device_id", Category.DEVICE_ID, Action.DELETE_ROW, Action.PSEUDONYMIZE),
    )

    async def identifiers(self, conn: Connection, scope: Scope) -> Identifiers:
        if not (scope.user_ids or scope.whole_tenant):
            return Identifiers()
        users = await conn.fetch(_SQL["users"], *scope.by_user())
        billing = await conn.fetch(_SQL["billing"], *scope.by_user())
        accounts = [
            r["account"] for r in await conn.fetch(_SQL["credential_accounts"], *scope.by_user())
        ]
        written = [r["name"] for r in (*users, *billing)]
        written += [r["display_name"] for r in users if r["display_name"]]
        return Identifiers(
            names=tuple(n for w in written if (n := Name.parse(w))),
            emails=tuple(r["email"] for r in (*users, *billing))
            + tuple(a for a in accounts if "@" in a[1:]),
            phones=tuple(r["phone"] for r in billing if r["phone"])
            + tuple(a for a in accounts if CANDIDATE.fullmatch(a.strip())),
            handles=tuple(a for a in accounts if a.startswith("@")),
            addresses=tuple(r["address"] for r in billing if r["address"]),
        )

    def count_query(self, scope: Scope) -> tuple[str, tuple[Any, ...]]:
        return _SQL["count"], scope.by_user()

    def parts(self, operation: Operation, scope: Scope) -> tuple[str, ...]:
        # Account tables hold no free text about other people: nothing to redact.
        return ("nothing",) if operation == "mentions" else _PARTS

    async def redact_mentions(self, conn: Connection, batch: Batch, tools: Tools) -> BatchResult:
        return BatchResult(processed=0, checkpoint=batch.after, finished=True)

    async def erase(self, conn: Connection, batch: Batch, tools: Tools) -> BatchResult:
        args = batch.scope.by_user()
        if batch.part in _ERASE:
            return await counted_batch(conn, _SQL[_ERASE[batch.part]], args, batch)
        users = await conn.fetch(_SQL["lock_users"], *args, batch.after, batch.limit)
        ids = [u["id"] for u in users]
        if ids:  # a statement of five updates and a delete: not for no users
            await conn.fetchval(_SQL["erase_users"], batch.scope.tenant_id, ids)
        return BatchResult(
            processed=len(users),
            checkpoint=ids[-1] if ids else batch.after,
            finished=len(users) < batch.limit,
            blob_keys=tuple(u["profile_picture"] for u in users if u["profile_picture"]),
            blob_rows=tuple((u["profile_picture"], u["id"]) for u in users if u["profile_picture"]),
        )

    async def anonymize(self, conn: Connection, batch: Batch, tools: Tools) -> BatchResult:
        args, f = batch.scope.by_user(), tools.fakes
        if batch.part == "credentials":
            return await counted_batch(conn, _SQL["destroy_credentials"], args, batch)
        if batch.part == "billing_contacts":
            rows = await conn.fetch(_SQL["lock_billing"], *args, batch.after, batch.limit)
            await conn.execute(
                _SQL["anonymize_billing"],
                batch.scope.tenant_id,
                [r["id"] for r in rows],
                [fake_full_name(f, r["name"]) for r in rows],
                [f.email(r["email"]) for r in rows],
                [tools.fake_phone(r["phone"]) if r["phone"] else None for r in rows],
                [
                    fake_address(tools, r["address"], whole=batch.scope.whole_tenant)
                    if r["address"]
                    else None
                    for r in rows
                ],
            )
        elif batch.part == "sessions":
            rows = await conn.fetch(_SQL["lock_sessions"], *args, batch.after, batch.limit)
            await conn.execute(
                _SQL["anonymize_sessions"],
                batch.scope.tenant_id,
                [r["id"] for r in rows],
                [truncate_ip(r["ip"]) if r["ip"] else None for r in rows],
                [generalize_user_agent(r["user_agent"]) if r["user_agent"] else None for r in rows],
                [f.token(r["device_id"], "device") if r["device_id"] else None for r in rows],
            )
        else:
            rows = await conn.fetch(_SQL["lock_users"], *args, batch.after, batch.limit)
            await conn.execute(
                _SQL["anonymize_users"],
                batch.scope.tenant_id,
                [r["id"] for r in rows],
                [fake_full_name(f, r["name"]) for r in rows],
                [f.email(r["email"]) for r in rows],
                [fake_full_name(f, r["display_name"]) if r["display_name"] else None for r in rows],
            )
        pictures = tuple(
            (r["profile_picture"], r["id"])
            for r in rows
            if batch.part == "users" and r["profile_picture"]
        )
        return BatchResult(
            processed=len(rows),
            checkpoint=rows[-1]["id"] if rows else batch.after,
            finished=len(rows) < batch.limit,
            blob_keys=tuple(key for key, _ in pictures),
            blob_rows=pictures,
        )

    async def export(self, conn: Connection, scope: Scope) -> AsyncIterator[Rendered]:
        for kind, query in (
            ("users", "export_users"),
            ("billing_contacts", "export_billing"),
            ("sessions", "export_sessions"),
        ):
            async for r in rendered(conn, kind, _SQL[query], *scope.by_user()):
                yield r
