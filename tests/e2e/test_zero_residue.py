"""Properties over generated tenants: Erase and Anonymize leave nothing of the subject,
change nothing else, and keep the audit log an append-only history.

Each example gets its own database and server, so "nothing else changed" can be
checked exactly: every other row equals its old self with the subject's
identifiers replaced, and nothing more.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anonymizers.text import documents, phones
from anonymizers.text.fakes import Fakes
from anonymizers.text.identity import Identifiers, Name
from anonymizers.text.matches import REDACTED, Replace
from anonymizers.text.normalize import fold
from anonymizers.text.redaction import Redactor
from anonymizers.text.replacements import fake_replacer
from atomicrm.privacy.v1 import privacy_pb2 as pb
from clients.client import PrivacyClient, subject
from server import tenant_keys
from server.blobs import BlobStore
from server.config import Settings
from server.keyring import Keyring
from tests.generated import OTHER_LAST, Person, TenantSpec, insert, spelled, tenants
from tests.helpers import blob_view
from tests.helpers.worlds import World, pg_dump

# Every world here is made on the local store, then on the S3 one.
pytestmark = pytest.mark.blob_stores

TENANT, OTHER = "t1", "t2"
# Tables and the columns compared; rows are matched by (tenant_id, id).
TABLES = {
    "contacts": "first_name, last_name, email, phone, address, company, birthday, "
    "custom_fields::text",
    "notes": "contact_id, body",
    "deals": "title, description, amount",
    "messages": "channel, sender, recipients, cc, bcc, subject, body",
    "files": "name",
    "users": "name, email, display_name",
    "sessions": "host(ip), user_agent, device_id, revoked_at IS NULL",
    "usage_events": "page, host(ip), user_agent, device_id",
    "billing_contacts": "name, email, phone, address",
    "channel_credentials": "account, secret",
}
EXAMPLES = settings(
    max_examples=int(os.environ.get("PRIVACY_PROPERTY_EXAMPLES", "6")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

Snapshot = dict[str, dict[tuple[str, int], tuple[Any, ...]]]


async def snapshot(conn: asyncpg.Connection) -> Snapshot:
    out: Snapshot = {}
    for table, columns in TABLES.items():
        rows = await conn.fetch(f"SELECT tenant_id, id, {columns} FROM {table}")
        out[table] = {(r[0], r[1]): tuple(r)[2:] for r in rows}
    return out


def blob_texts(store: BlobStore, skip: set[str]) -> str:
    """Every blob as its readers see it (documents.text_views), but those in `skip`."""
    return "\n".join(
        "\n".join(documents.text_views(data, "", key.rpartition("/")[2]))
        for key, data in blob_view.stored(store).items()
        if key not in skip
    )


# A name is no part of a longer word, name or email address.
_NOT_BEFORE = r"(?<![\w@.-])"
_NOT_AFTER = r"(?![\w@-]|\.\w)"


def residue(text: str, person: Person, *, family: bool = True) -> list[str]:
    """The person's identifiers in text, however written: compared after the same
    normalization (decoded, case and diacritics folded). `family`: the family name
    alone too (not where everyone got fakes: a fake may be another person's name)."""
    folded = fold(text)
    first, last = re.escape(fold(person.first)), re.escape(fold(person.last))
    patterns = [
        rf"{_NOT_BEFORE}{first}\W{{1,3}}{last}{_NOT_AFTER}",
        rf"{_NOT_BEFORE}{last}\W{{1,3}}{first}{_NOT_AFTER}",
        *([rf"{_NOT_BEFORE}{last}{_NOT_AFTER}"] if family else []),  # unique in a tenant
        *(re.escape(fold(i)) for i in person.identifiers()[1:4] + person.identifiers()[4:]),
    ]
    found = [p for p in patterns if re.search(p, folded)]
    number = phones.parse(person.phone, "US")
    assert number is not None
    if any(p.e164 == number.e164 for _, _, p in phones.find(folded, "US", {number.e164})):
        found.append(person.phone)
    return found


def redacted(value: Any, redactor: Redactor, replace_: Replace) -> Any:
    if isinstance(value, str):
        return redactor.redact(value, replace_)
    if isinstance(value, list):
        return [redacted(v, redactor, replace_) for v in value]
    return value


WorldArgs = tuple[str, str, Path, Settings, str]


@pytest.fixture
def world_args(
    server_url: str, template_db: str, tmp_path: Path, settings: Settings, blob_backend: str
) -> WorldArgs:
    if blob_backend == "s3":
        settings = replace(settings, blob_url=None)  # each World names its own bucket
    return server_url, template_db, tmp_path, settings, blob_backend


def redactor_for(people: list[Person], *, everyone: bool = False) -> Redactor:
    return Redactor(
        Identifiers(
            names=tuple(Name(p.first, p.last) for p in people),
            emails=tuple(e for p in people for e in (p.email, p.email2) if e),
            phones=tuple(p.phone for p in people),
            handles=tuple(h for p in people for h in (p.handle, p.visitor)),
        ),
        everyone=everyone,
    )


Pick = Callable[[dict[str, list[int]]], tuple[pb.Subject, list[Person], set[tuple[str, int]]]]


@dataclass
class Outcome:
    ids: dict[str, list[int]]
    before: Snapshot
    after: Snapshot
    fakes: Fakes

    def count(self, snap: Snapshot, table: str) -> int:
        return sum(1 for k in snap[table] if k[0] == TENANT)


async def run_and_check(
    args: WorldArgs,
    spec: TenantSpec,
    other: TenantSpec,
    *,
    anonymize: bool,
    pick: Pick,
    whole_tenant: bool = False,
) -> Outcome:
    """Run one job on a fresh world and check what every right must guarantee:
    nothing of the subject in a pg_dump or a blob; every other row, and every
    blob left, exactly its old self with the subject's identifiers replaced; the
    other tenant untouched; the audit log only grew; no identifiers kept.
    """
    server_url, template, tmp, settings_, backend = args
    async with World(server_url, template, tmp, backend) as w:
        ids = await insert(w.conn, w.blobs, TENANT, spec)
        await insert(w.conn, w.blobs, OTHER, other)
        who, people, special = pick(ids)
        before = await snapshot(w.conn)
        blobs_before = blob_view.stored(w.blobs)
        audit_before = await w.conn.fetch("SELECT * FROM privacy_audit_log ORDER BY tenant_id, seq")

        def submit(c: PrivacyClient) -> Awaitable[pb.Job]:
            if anonymize:
                # Fakes from the tenant's key, so the expected rows can be computed
                # here; a job's own key (the default) is gone when it ends.
                return c.anonymize(TENANT, who, consistent_across_jobs=True)
            return c.erase(TENANT, who)

        job = await w.run(settings_, submit)
        assert job.state == pb.JOB_STATE_SUCCEEDED, job.error_message

        review = {item.file_id for item in job.needs_review}
        check_review(review, spec, ids, people, anonymize=anonymize, whole_tenant=whole_tenant)
        review_keys = {
            r["blob_key"]
            for r in await w.conn.fetch(
                "SELECT blob_key FROM files WHERE id = ANY($1)", list(review)
            )
        }
        dump = pg_dump(w.url)
        texts = blob_texts(w.blobs, review_keys)
        # Nothing kept out of sight either: no old version, no delete marker.
        assert blob_view.leftovers(w.blobs) == []
        family = not (whole_tenant and anonymize)
        for person in people:
            left = [line for line in dump.splitlines() if residue(line, person, family=family)]
            assert left == [], f"the database still holds {person.full_name}"
            assert residue(texts, person, family=family) == [], "a blob still holds them"
        await check_spellings(w, spec, ids, people, anonymize=anonymize, whole_tenant=whole_tenant)

        stored = await w.conn.fetchrow(
            "SELECT key, key_id, wrapped FROM privacy_tenant_keys WHERE tenant_id = $1", TENANT
        )
        if whole_tenant and not anonymize:
            assert stored is None  # the tenant's key went last (crypto-shredding)
            fakes = Fakes(b"unused: nothing is faked")
        else:
            keyring = Keyring.load(settings_.keyring_file)
            fakes = Fakes(tenant_keys.unwrap(keyring, TENANT, stored))
        replace_: Replace = fake_replacer(fakes) if anonymize else (lambda *_: REDACTED)
        redactor = redactor_for(people, everyone=whole_tenant)
        after = await snapshot(w.conn)
        for table, rows in before.items():
            for row_key, old in rows.items():
                if row_key[0] == OTHER:
                    assert after[table].get(row_key) == old, (table, row_key)  # untouched
                elif row_key in after[table] and not {(table, row_key[1]), (table, 0)} & special:
                    expected = tuple(redacted(v, redactor, replace_) for v in old)
                    assert after[table][row_key] == expected, (table, row_key)
        check_blobs(w.blobs, blobs_before, review_keys, redactor, replace_)
        for row in await w.conn.fetch("SELECT blob_key, sha256 FROM files"):
            data = blob_view.read(w.blobs, row["blob_key"])
            assert data is not None
            assert hashlib.sha256(data).hexdigest() == row["sha256"]  # rows match contents

        audit_after = await w.conn.fetch("SELECT * FROM privacy_audit_log ORDER BY tenant_id, seq")
        assert audit_after[: len(audit_before)] == audit_before
        assert len(audit_after) > len(audit_before)
        assert await w.conn.fetchval("SELECT count(*) FROM privacy_job_identifiers") == 0
        return Outcome(ids, before, after, fakes)


def check_review(
    review: set[int],
    spec: TenantSpec,
    ids: dict[str, list[int]],
    people: list[Person],
    *,
    anonymize: bool,
    whole_tenant: bool,
) -> None:
    """Documents that name the subject cannot be rewritten: the job lists them."""
    pdfs = {
        file_id
        for doc, file_id in zip(spec.documents, ids["documents"], strict=True)
        if doc.format == "pdf"
    }
    if whole_tenant:
        # Erased with the tenant; or the tenant's own, still naming people.
        assert review == (pdfs if anonymize else set())
    else:
        # Their own files go with them (Erase); everyone else's that name them stay.
        about_them = {
            file_id
            for doc, file_id in zip(spec.documents, ids["documents"], strict=True)
            if (spec.people + spec.staff)[doc.about] in people
            and (anonymize or spec.people[doc.owner] not in people)
        }
        assert review == pdfs & about_them, (review, about_them)


async def check_spellings(
    w: World,
    spec: TenantSpec,
    ids: dict[str, list[int]],
    people: list[Person],
    *,
    anonymize: bool,
    whole_tenant: bool,
) -> None:
    """How each spelling reads now: exactly the subject's span replaced (Erase),
    look-alikes as they were."""
    everyone = spec.people + spec.staff
    for sp, note_id in zip(spec.spellings, ids["spellings"], strict=True):
        body = await w.conn.fetchval("SELECT body FROM notes WHERE id = $1", note_id)
        text, erased = spelled(sp, everyone[sp.about])
        if body is None or whole_tenant:
            continue  # the note's contact was the subject: its notes went with it
        if everyone[sp.about] in people and not sp.look_alike:
            if not anonymize:
                assert body == erased, (text, body)
            else:
                assert body != text
        else:
            assert body == text


def check_blobs(
    store: BlobStore,
    blobs_before: dict[str, bytes],
    review_keys: set[str],
    redactor: Redactor,
    replace_: Replace,
) -> None:
    """Every blob left is its old self with the subject's identifiers replaced (the
    other tenant's, and documents listed for review, untouched)."""
    after = blob_view.stored(store)
    for key, data in blobs_before.items():
        now = after.get(key)
        if now is None:  # erased blobs were checked by the residue search
            continue
        if key.split("/")[0] == OTHER or key in review_keys:
            assert now == data, key  # not theirs, or not rewritable
            continue
        try:
            text = data.decode()
        except UnicodeDecodeError:
            continue  # a document: checked by the residue search
        assert now.decode() == redactor.redact(text, replace_), key


def a_contact(spec: TenantSpec, who: int, by: str) -> Pick:
    def pick(ids: dict[str, list[int]]) -> tuple[pb.Subject, list[Person], set[tuple[str, int]]]:
        s = spec.people[who]
        subj = {
            "email": subject(email=s.email.upper()),
            "phone": subject(phone=s.phone),
            "id": subject(contact_id=ids["contacts"][who]),
        }[by]
        return subj, [s], {("contacts", ids["contacts"][who])}

    return pick


def a_user(spec: TenantSpec, which: int) -> Pick:
    def pick(ids: dict[str, list[int]]) -> tuple[pb.Subject, list[Person], set[tuple[str, int]]]:
        uid = ids["users"][which]
        # Account tables change by column (fakes, truncation): the tests check them.
        return subject(user_id=uid), [spec.staff[which]], set(ACCOUNT_TABLES)

    return pick


def the_tenant(spec: TenantSpec) -> Pick:
    def pick(ids: dict[str, list[int]]) -> tuple[pb.Subject, list[Person], set[tuple[str, int]]]:
        # Every contact and account row changes by column: the tests check counts.
        special = {("contacts", 0), *ACCOUNT_TABLES}
        return subject(whole_tenant=TENANT), spec.people + spec.staff, special

    return pick


ACCOUNT_TABLES = [
    (t, 0) for t in ("users", "sessions", "usage_events", "billing_contacts", "channel_credentials")
]
SPECS = {"spec": tenants(), "other": tenants(last_names=OTHER_LAST), "data": st.data()}


@EXAMPLES
@given(**SPECS)
async def test_erase_of_a_contact_leaves_nothing_of_them_and_changes_nothing_else(
    world_args: WorldArgs, spec: TenantSpec, other: TenantSpec, data: st.DataObject
) -> None:
    who = data.draw(st.integers(0, len(spec.people) - 1))
    by = data.draw(st.sampled_from(["email", "phone", "id"]))
    out = await run_and_check(
        world_args, spec, other, anonymize=False, pick=a_contact(spec, who, by)
    )
    assert (TENANT, out.ids["contacts"][who]) not in out.after["contacts"]
    assert out.count(out.after, "contacts") == out.count(out.before, "contacts") - 1
    assert out.count(out.after, "deals") == out.count(out.before, "deals")  # kept, unlinked


@EXAMPLES
@given(**SPECS)
async def test_anonymize_of_a_contact_keeps_every_record_with_consistent_fakes(
    world_args: WorldArgs, spec: TenantSpec, other: TenantSpec, data: st.DataObject
) -> None:
    who = data.draw(st.integers(0, len(spec.people) - 1))
    out = await run_and_check(
        world_args, spec, other, anonymize=True, pick=a_contact(spec, who, "email")
    )
    for table in TABLES:  # every record is still there
        assert out.count(out.after, table) == out.count(out.before, table), table
    s, f = spec.people[who], out.fakes
    row = out.after["contacts"][(TENANT, out.ids["contacts"][who])]
    assert row[:5] == (
        f.first_name(s.first),
        f.last_name(s.last),
        f.email(s.email),
        f.phone(s.phone),
        row[4],
    )
    assert row[4] != "9 Elm St, Shelbyville"
    assert row[6] is None
    assert row[7] == "{}"
    # The same identifier became the same fake in every table it appears in.
    fake_email = f.email(s.email)
    tables = {
        t
        for t, rows in out.after.items()
        for k, v in rows.items()
        if k[0] == TENANT and fake_email in repr(v)
    }
    mentioned = {
        t
        for t, rows in out.before.items()
        for k, v in rows.items()
        if k[0] == TENANT and s.email in repr(v)
    }
    assert tables == mentioned


@EXAMPLES
@given(**SPECS)
async def test_erase_of_a_user_account_removes_the_account_and_keeps_the_business(
    world_args: WorldArgs, spec: TenantSpec, other: TenantSpec, data: st.DataObject
) -> None:
    which = data.draw(st.integers(0, len(spec.staff) - 1))
    out = await run_and_check(world_args, spec, other, anonymize=False, pick=a_user(spec, which))
    uid = out.ids["users"][which]
    assert (TENANT, uid) not in out.after["users"]
    for table in ("sessions", "usage_events", "billing_contacts", "channel_credentials"):
        assert out.count(out.after, table) == out.count(out.before, table) - 1, table
    for table in ("messages", "contacts", "notes", "deals"):  # the tenant's business stays
        assert out.count(out.after, table) == out.count(out.before, table), table


@EXAMPLES
@given(**SPECS)
async def test_anonymize_of_a_user_account_revokes_and_pseudonymizes(
    world_args: WorldArgs, spec: TenantSpec, other: TenantSpec, data: st.DataObject
) -> None:
    which = data.draw(st.integers(0, len(spec.staff) - 1))
    out = await run_and_check(world_args, spec, other, anonymize=True, pick=a_user(spec, which))
    u, f = spec.staff[which], out.fakes
    assert out.after["users"][(TENANT, out.ids["users"][which])][1] == f.email(u.email)
    assert (
        out.count(out.after, "channel_credentials")
        == out.count(out.before, "channel_credentials") - 1
    )  # tokens are destroyed, never kept
    sessions = [v for k, v in out.after["sessions"].items() if k[0] == TENANT]
    revoked = [v for v in sessions if v[3] is False]
    assert len(revoked) == 1
    assert revoked[0][0] == "203.0.113.0"  # IPv4 /24
    assert revoked[0][1] == "Chrome on Windows"


@EXAMPLES
@given(**SPECS)
async def test_erase_of_a_whole_tenant_leaves_the_other_tenant_alone(
    world_args: WorldArgs, spec: TenantSpec, other: TenantSpec, data: st.DataObject
) -> None:
    out = await run_and_check(
        world_args, spec, other, anonymize=False, pick=the_tenant(spec), whole_tenant=True
    )
    for table in TABLES:
        assert out.count(out.after, table) == 0, table


@EXAMPLES
@given(**SPECS)
async def test_anonymize_of_a_whole_tenant_keeps_its_records(
    world_args: WorldArgs, spec: TenantSpec, other: TenantSpec, data: st.DataObject
) -> None:
    out = await run_and_check(
        world_args, spec, other, anonymize=True, pick=the_tenant(spec), whole_tenant=True
    )
    for table in TABLES:
        expected = out.count(out.before, table)
        if table == "channel_credentials":
            expected = 0
        assert out.count(out.after, table) == expected, table
