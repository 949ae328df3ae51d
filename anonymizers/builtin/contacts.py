"""Contacts, the notes about them, and their deals."""

from __future__ import annotations

import json
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
    Role,
    Rows,
    Scope,
    TextColumns,
    Tools,
    counted_batch,
    load_queries,
    redact_batch,
    rendered,
)
from anonymizers.text.clear_fakes import fake_address
from anonymizers.text.identity import harvest_json
from anonymizers.text.replacements import fake_name

_SQL = load_queries("anonymizers.builtin.sql", "contacts.sql")

_BUSINESS = "a business record of the tenant, not about the person"
_NOTES = TextColumns("notes", text=("body",), owner="contact_id", indexed=True)
_DEALS = TextColumns("deals", text=("title", "description"), owner="contact_id", indexed=True)
_CONTACTS = TextColumns(
    "contacts", text=("address", "company"), json=("custom_fields",), indexed=True
)
# The mentions step's parts: notes about the subject are deleted by erase; their
# deals stay (unlinked), so theirs are redacted whole here, everyone else's where
# they name the subject.
_MENTIONS: dict[str, tuple[TextColumns, Rows]] = {
    "others_notes": (_NOTES, "others"),
    "others_deals": (_DEALS, "others"),
    "own_deals": (_DEALS, "owned"),
    "others_contacts": (_CONTACTS, "others"),
}
# A whole tenant's erasure: notes, then deals, then contacts (references first).
_TENANT_ERASE = {"notes": "erase_tenant_notes", "deals": "erase_tenant_deals"}
# Anonymize: the contacts' own columns, then the free text of their notes and deals
# (for a whole tenant, of every note and deal).
_ANONYMIZE_TEXT = {"notes": _NOTES, "deals": _DEALS}


class ContactsAnonymizer:
    """Contacts: the person goes (erase) or becomes a consistent fake (anonymize)."""

    data_type = "contacts"
    stage = 90  # after messages and files, which reference contacts
    honours_period = False
    columns = (
        Column("contacts", "first_name", Category.PERSON_NAME, Action.DELETE_ROW, Action.FAKE),
        Column("contacts", "last_name", Category.PERSON_NAME, Action.DELETE_ROW, Action.FAKE),
        Column("contacts", "email", Category.EMAIL, Action.DELETE_ROW, Action.FAKE),
        Column("contacts", "phone", Category.PHONE, Action.DELETE_ROW, Action.FAKE),
        Column("contacts", "address", Category.POSTAL_ADDRESS, Action.DELETE_ROW, Action.FAKE),
        Column(
            "contacts",
            "company",
            Category.COMPANY,
            Action.DELETE_ROW,
            Action.KEEP,
            "the employer's name: business data, kept for reports",
        ),
        Column("contacts", "birthday", Category.BIRTHDAY, Action.DELETE_ROW, Action.NULL),
        Column("contacts", "custom_fields", Category.CUSTOM_FIELDS, Action.DELETE_ROW, Action.NULL),
        Column("notes", "body", Category.FREE_TEXT, Action.DELETE_ROW, Action.REDACT),
        Column("deals", "title", Category.FREE_TEXT, Action.REDACT, Action.REDACT),
        Column("deals", "description", Category.FREE_TEXT, Action.REDACT, Action.REDACT),
        Column("deals", "currency", Category.BUSINESS, Action.KEEP, Action.KEEP, _BUSINESS),
        Column("deals", "stage", Category.BUSINESS, Action.KEEP, Action.KEEP, _BUSINESS),
    )

    async def identifiers(self, conn: Connection, scope: Scope) -> Identifiers:
        rows = await conn.fetch(_SQL["identifiers"], *scope.by_contact())
        # Beyond the typed columns: a second email, number or handle in custom fields.
        extra = [harvest_json(json.loads(r["custom_fields"])) for r in rows]
        return Identifiers(
            names=tuple(n for r in rows if (n := Name.of(r["first_name"], r["last_name"]))),
            emails=tuple(r["email"] for r in rows if r["email"])
            + tuple(e for h in extra for e in h.emails),
            phones=tuple(r["phone"] for r in rows if r["phone"])
            + tuple(p for h in extra for p in h.phones),
            handles=tuple(h for found in extra for h in found.handles),
            addresses=tuple(r["address"] for r in rows if r["address"]),
        )

    def count_query(self, scope: Scope) -> tuple[str, tuple[Any, ...]]:
        return _SQL["count"], scope.by_contact()

    def parts(self, operation: Operation, scope: Scope) -> tuple[str, ...]:
        if operation == "mentions":
            return tuple(_MENTIONS)
        if operation == "anonymize":
            return ("contacts", *_ANONYMIZE_TEXT)
        return (*_TENANT_ERASE, "contacts") if scope.whole_tenant else ("contacts",)

    async def redact_mentions(self, conn: Connection, batch: Batch, tools: Tools) -> BatchResult:
        columns, rows = _MENTIONS[batch.part]
        owners = batch.scope.contact_ids
        return await redact_batch(conn, columns, batch, tools, rows=rows, owners=owners)

    async def erase(self, conn: Connection, batch: Batch, tools: Tools) -> BatchResult:
        tenant, whole, ids = batch.scope.by_contact()
        if batch.part in _TENANT_ERASE:
            return await counted_batch(conn, _SQL[_TENANT_ERASE[batch.part]], (tenant,), batch)
        rows = await conn.fetch(_SQL["lock_contacts"], tenant, whole, ids, batch.after, batch.limit)
        if not rows:
            return BatchResult(processed=0, checkpoint=batch.after, finished=True)
        batch_ids = [r["id"] for r in rows]
        processed = await conn.fetchval(_SQL["erase_contacts"], tenant, batch_ids)
        return BatchResult(
            processed=int(processed),
            checkpoint=batch_ids[-1],
            finished=len(rows) < batch.limit,
        )

    async def anonymize(self, conn: Connection, batch: Batch, tools: Tools) -> BatchResult:
        owners = batch.scope.contact_ids
        rows: Rows = "all" if batch.scope.whole_tenant else "owned"
        if batch.part in _ANONYMIZE_TEXT:
            columns = _ANONYMIZE_TEXT[batch.part]
            return await redact_batch(conn, columns, batch, tools, rows=rows, owners=owners)
        found = await conn.fetch(
            _SQL["contacts_to_anonymize"], *batch.scope.by_contact(), batch.after, batch.limit
        )
        f = tools.fakes
        # The same fakes as the subject's identifiers get wherever else they appear.
        await conn.execute(
            _SQL["anonymize_contacts"],
            batch.scope.tenant_id,
            [r["id"] for r in found],
            [fake_name(f, r["first_name"], Role.GIVEN) if r["first_name"] else None for r in found],
            [fake_name(f, r["last_name"], Role.FAMILY) if r["last_name"] else None for r in found],
            [f.email(r["email"]) if r["email"] else None for r in found],
            [tools.fake_phone(r["phone"]) if r["phone"] else None for r in found],
            [
                fake_address(tools, r["address"], whole=batch.scope.whole_tenant)
                if r["address"]
                else None
                for r in found
            ],
        )
        return BatchResult(
            processed=len(found),
            checkpoint=found[-1]["id"] if found else batch.after,
            finished=len(found) < batch.limit,
        )

    async def export(self, conn: Connection, scope: Scope) -> AsyncIterator[Rendered]:
        for kind in ("contacts", "notes", "deals"):
            async for r in rendered(conn, kind, _SQL[f"export_{kind}"], *scope.by_contact()):
                yield r
