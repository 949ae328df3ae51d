"""FindSubjects: the ids an email or a phone number names in a tenant, audited.

The match is Erase's own (`subjects.resolve`): what `find` answers is what an Erase
of the same email or number would cover, no more and no less. The answer is ids
only; the audit entry ("subject.lookup") names the subject by its keyed hash, as an
Export's does, and counts what was found.
"""

from __future__ import annotations

from dataclasses import dataclass

from db.connection import Connection
from server import audit, subjects, tenant_keys
from server.audit import AuditEntry
from server.errors import InvalidArgument, NotFound
from server.keyring import Keyring
from server.subjects import Subject
from server.tenancy import enter_tenant, require_tenant


@dataclass(frozen=True)
class Found:
    """The contacts and user accounts a subject names; both empty: none."""

    contact_ids: tuple[int, ...]
    user_ids: tuple[int, ...]


async def find(
    conn: Connection,
    tenant_id: str,
    subject: Subject,
    *,
    region: str,
    actor: str,
    keyring: Keyring,
) -> Found:
    """The ids `subject` (an email, or a phone number read in `region`) names in the
    tenant; NotFound for no such tenant. The lookup is audited in the same
    transaction, whatever it finds: asking is what the log records."""
    async with conn.transaction():
        await enter_tenant(conn, tenant_id)
        await require_tenant(conn, tenant_id)
        try:
            subject = subject.in_region(region)
        except InvalidArgument as error:  # the request's field is identifier.phone
            raise InvalidArgument("identifier.phone", error.description) from None
        try:
            resolved = await subjects.resolve(conn, tenant_id, subject, region)
            found = Found(resolved.contact_ids, resolved.user_ids)
        except NotFound:  # nobody: an answer, not an error
            found = Found((), ())
        key = await tenant_keys.tenant_key(conn, tenant_id, keyring)
        await audit.append(
            conn,
            AuditEntry(
                tenant_id=tenant_id,
                actor=actor,
                action="subject.lookup",
                subject_hash=subjects.subject_hash(key, subject),
                details={"contacts": len(found.contact_ids), "users": len(found.user_ids)},
            ),
        )
    return found
