"""Contacts, the notes about them, and their link from deals."""

from __future__ import annotations

from anonymizers.base import Action, Batch, BatchResult, Category, Column, Connection, Scope
from anonymizers.queries import load_queries
from anonymizers.redaction import Identifiers, Redactor, full_names

_SQL = load_queries("anonymizers.sql", "contacts.sql")

_KEEP_BUSINESS = "business record of the tenant, not about the person"


class ContactsAnonymizer:
    """Contacts: delete the person, keep the deals without them."""

    data_type = "contacts"
    stage = 90  # last: messages and files reference contacts
    columns = (
        Column("contacts", "first_name", Category.PERSON_NAME, Action.DELETE_ROW, Action.FAKE),
        Column("contacts", "last_name", Category.PERSON_NAME, Action.DELETE_ROW, Action.FAKE),
        Column("contacts", "email", Category.EMAIL, Action.DELETE_ROW, Action.FAKE),
        Column("contacts", "phone", Category.PHONE, Action.DELETE_ROW, Action.FAKE),
        Column("contacts", "address", Category.POSTAL_ADDRESS, Action.DELETE_ROW, Action.FAKE),
        Column(
            "contacts", "company", Category.COMPANY, Action.DELETE_ROW, Action.KEEP, _KEEP_BUSINESS
        ),
        Column("contacts", "birthday", Category.BIRTHDAY, Action.DELETE_ROW, Action.NULL),
        Column("contacts", "custom_fields", Category.CUSTOM_FIELDS, Action.DELETE_ROW, Action.NULL),
        Column("notes", "body", Category.FREE_TEXT, Action.DELETE_ROW, Action.REDACT),
        Column("deals", "title", Category.BUSINESS, Action.KEEP, Action.KEEP, _KEEP_BUSINESS),
        Column("deals", "description", Category.FREE_TEXT, Action.REDACT, Action.REDACT),
        Column("deals", "stage", Category.BUSINESS, Action.KEEP, Action.KEEP, _KEEP_BUSINESS),
        Column("deals", "currency", Category.BUSINESS, Action.KEEP, Action.KEEP, _KEEP_BUSINESS),
    )

    async def count(self, conn: Connection, scope: Scope) -> int:
        return int(await conn.fetchval(_SQL["count"], scope.tenant_id, list(scope.contact_ids)))

    async def erase(self, conn: Connection, batch: Batch) -> BatchResult:
        tenant = batch.scope.tenant_id
        rows = await conn.fetch(
            _SQL["lock_batch"], tenant, list(batch.scope.contact_ids), batch.after, batch.limit
        )
        if not rows:
            return BatchResult(processed=0, checkpoint=batch.after, finished=True)
        ids = [r["id"] for r in rows]
        notes = int(await conn.fetchval(_SQL["delete_notes"], tenant, ids))
        redactor = Redactor(
            Identifiers(
                names=full_names((r["first_name"], r["last_name"]) for r in rows),
                emails=tuple(r["email"] for r in rows if r["email"]),
                phones=tuple(r["phone"] for r in rows if r["phone"]),
            )
        )
        deals = await conn.fetch(_SQL["linked_deals"], tenant, ids)
        for deal in deals:
            await conn.execute(
                _SQL["unlink_deal"], tenant, deal["id"], redactor.redact(deal["description"] or "")
            )
        await conn.fetchval(_SQL["unlink_leftovers"], tenant, ids)
        await conn.execute(_SQL["delete_contacts"], tenant, ids)
        return BatchResult(
            processed=len(ids) + notes + len(deals),
            checkpoint=ids[-1],
            finished=len(ids) < batch.limit,
        )
