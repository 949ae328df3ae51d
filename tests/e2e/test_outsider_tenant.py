"""A tenant built by hand, as an outsider would: plain SQL and files, one person written
in the ordinary ways a CRM holds a person, beside people who look like her.

Every text that names her has its expected form written out here, character for
character: after Erase, exactly her spans are "[redacted]"; look-alikes, the other
tenant and the audit log's past are byte for byte what they were; nothing of her is
left in a pg_dump or in any file, but for the files the job lists for review.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from anonymizers.text import documents, phones
from anonymizers.text.normalize import fold
from atomicrm.privacy.v1 import privacy_pb2 as pb
from clients.client import PrivacyClient, subject
from server.blobs import BlobStore
from server.config import Settings
from tests.helpers import blob_view
from tests.helpers.documents import CONTENT_TYPES, W, pdf, zipped
from tests.helpers.worlds import World, pg_dump

# Every world here is made on the local store, then on the S3 one.
pytestmark = pytest.mark.blob_stores

TENANT, BYSTANDER = "outsider", "bystander"
R = "[redacted]"
PCT = "%5Bredacted%5D"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

# Free text on other people's records: (text, what Erase leaves of it).
MENTIONS = [
    (
        "Met Šimić-Novak, Zoë at the fair; she prefers ZOE SIMIC on badges.",
        f"Met {R} at the fair; she prefers {R} on badges.",
    ),
    (
        "Call Ms. Šimić at (207) 946-0958, not Liam Novak at (207) 946-0959.",
        f"Call Ms. {R} at {R}, not Liam Novak at (207) 946-0959.",
    ),
    (
        "See https://crm.example/c?email=zoe.simic%40example.com&ref=1 and "
        "https://crm.example/p/Zo%C3%AB%20%C5%A0imi%C4%87-Novak",
        f"See https://crm.example/c?email={PCT}&ref=1 and https://crm.example/p/{PCT}",
    ),
    (
        '{"contact": "Zo\\u00eb \\u0160imi\\u0107-Novak", "phone": "+12079460958"}',
        f'{{"contact": "{R}", "phone": "{R}"}}',
    ),
    (
        "Telegram @zoesn; mobile 207-555-0199; old mail ZSN@PRIVATE.EXAMPLE.",
        f"Telegram {R}; mobile {R}; old mail {R}.",
    ),
    (
        "Ship to 12 Harbour Rd., Portland - not 14 Harbour Rd, Portland.",
        f"Ship to {R} - not 14 Harbour Rd, Portland.",
    ),
    ("write to zoe dot simic at example dot com", f"write to {R}"),
    ("Šimić called back.", f"{R} called back."),
    (unicodedata.normalize("NFD", "Zoë Šimić signed."), f"{R} signed."),
    ("Se&aacute;n and Zo&euml; &Scaron;imi&#263;-Novak came", f"Se&aacute;n and {R} came"),
]
# Other people's text that names look-alikes only: never touched.
LOOK_ALIKES = [
    "Zoë Petrović (zoe.simic@example.org, +44 20 7946 0958) is someone else.",
    "Dear Zoë, see you.",  # a given name alone, in someone else's record
    "Zoë Šimić-Horvat is her cousin.",  # a longer family name
    "Dr Novak and Liam Novak, (207) 946-0959.",  # Novak is Liam's too
    "Ask zoe.simic@other.com or zoe.simic.x@example.com.",
]
# Other people's files: (name, content type, bytes, what Erase leaves, or None for a
# file the job must list for review).
TEXT_FILES = [
    (
        "notes.txt",
        "text/plain",
        "Met Zoë Šimić-Novak, zoe.simic@example.com, (207) 946-0958.\n".encode(),
        f"Met {R}, {R}, {R}.\n".encode(),
    ),
    (
        "export.csv",
        "text/csv",
        "name,email\r\nZoë Simic-Novak,zoe.simic@example.com\r\n".encode("cp1252"),
        f"name,email\r\n{R},{R}\r\n".encode("cp1252"),
    ),
    (
        "data.json",
        "application/json",
        b'{"n": "Zo\\u00eb \\u0160imi\\u0107", "e": "zoe.simic@example.com"}',
        f'{{"n": "{R}", "e": "{R}"}}'.encode(),
    ),
    (
        "page.html",
        "text/html",
        b"<p>Zo&euml; &Scaron;imi&#263;-Novak</p>\n",
        f"<p>{R}</p>\n".encode(),
    ),
    (
        "card.vcf",
        "text/vcard",
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Zoë Šimić-Novak\r\nEMAIL:zoe.simic@example.com\r\n"
        "END:VCARD\r\n".encode(),
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:{R}\r\nEMAIL:{R}\r\nEND:VCARD\r\n".encode(),
    ),
    (
        "invite.ics",
        "text/calendar",
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nATTENDEE;CN=Zoe Simic:mailto:zoe.simic@example.com"
        b"\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        f"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nATTENDEE;CN={R}:mailto:{R}\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n".encode(),
    ),
    (
        "readme.md",
        "text/markdown",
        "# Zoë\nContact **Šimić-Novak, Zoë** today.\n".encode(),
        f"# Zoë\nContact **{R}** today.\n".encode(),
    ),
    (
        "petrovic.txt",
        "text/plain",
        "Zoë Petrović, zoe.simic@example.org, +44 20 7946 0958\n".encode(),
        "Zoë Petrović, zoe.simic@example.org, +44 20 7946 0958\n".encode(),
    ),
]


def _eml() -> bytes:
    message = EmailMessage()
    message["From"] = "Omar Haddad <omar@example.com>"
    message["To"] = "Zoë Šimić-Novak <zoe.simic@example.com>"
    message["Subject"] = "Quarterly review"
    message.set_content("Please call Zoë Šimić at (207) 946-0958.", cte="base64")
    return message.as_bytes()


def _docx() -> bytes:
    body = "<w:p><w:r><w:t>Memo for Zo</w:t></w:r><w:r><w:t>ë Šimić-Novak</w:t></w:r></w:p>"
    document = f'<?xml version="1.0"?><w:document {W}><w:body>{body}</w:body></w:document>'
    return zipped({"[Content_Types].xml": CONTENT_TYPES, "word/document.xml": document})


REVIEW_FILES = [
    ("mail.eml", "message/rfc822", _eml()),
    (
        "report.pdf",
        "application/pdf",
        pdf(b"BT /F1 12 Tf 72 720 Td (Zoe Simic, zoe.simic@example.com) Tj ET", author=b"Omar"),
    ),
    ("memo.docx", DOCX, _docx()),
]


@dataclass
class Ids:
    zoe: int
    petrovic: int
    liam: int
    omar: int
    mia: int
    notes: list[int]
    look_alike_notes: list[int]
    deal: int
    message: int
    event: int
    files: dict[str, int]


async def _file(w: World, tenant: str, contact: int, name: str, kind: str, *, data: bytes) -> int:
    key = w.blobs.new_key(tenant)
    w.blobs.put(tenant, key, data)
    file_id: int = await w.conn.fetchval(
        "INSERT INTO files (tenant_id, contact_id, name, content_type, size_bytes, sha256, "
        "blob_key) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        tenant,
        contact,
        name,
        kind,
        len(data),
        hashlib.sha256(data).hexdigest(),
        key,
    )
    return file_id


async def one(conn: asyncpg.Connection, sql: str, *args: Any) -> asyncpg.Record:
    row = await conn.fetchrow(sql, *args)
    assert row is not None
    return row


async def _contact(conn: asyncpg.Connection, tenant: str, *values: Any) -> int:
    contact_id: int = await conn.fetchval(
        "INSERT INTO contacts (tenant_id, first_name, last_name, email, phone, address, "
        "custom_fields) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        tenant,
        *values,
    )
    return contact_id


async def build(w: World) -> Ids:
    """The tenant, by hand; and a bystander tenant holding the same person."""
    conn = w.conn
    for tenant in (TENANT, BYSTANDER):
        await conn.execute("INSERT INTO tenants (tenant_id, name) VALUES ($1, 'Acme')", tenant)
    mia = await conn.fetchval(
        "INSERT INTO users (tenant_id, email, name, display_name) "
        "VALUES ($1, 'mia@crm.example', 'Mia Keller', 'Mia') RETURNING id",
        TENANT,
    )
    zoe = await _contact(
        conn,
        TENANT,
        "Zoë",
        "Šimić-Novak",
        "Zoe.Simic@Example.com",
        "(207) 946-0958",
        "12 Harbour Rd, Portland",
        json.dumps(
            {
                "email2": "zsn@private.example",
                "telegram": "@zoesn",
                "mobile": "+1 207 555 0199",
                "tier": "gold",
            }
        ),
    )
    petrovic = await _contact(
        conn,
        TENANT,
        "Zoë",
        "Petrović",
        "zoe.simic@example.org",
        "+44 20 7946 0958",
        "14 Harbour Rd, Portland",
        "{}",
    )
    liam = await _contact(
        conn, TENANT, "Liam", "Novak", "liam.novak@example.com", "(207) 946-0959", None, "{}"
    )
    omar = await _contact(
        conn, TENANT, "Omar", "Haddad", "omar@example.com", None, None, '{"tier": "silver"}'
    )

    async def note(contact: int, body: str, tenant: str = TENANT) -> int:
        note_id: int = await conn.fetchval(
            "INSERT INTO notes (tenant_id, contact_id, body) VALUES ($1, $2, $3) RETURNING id",
            tenant,
            contact,
            body,
        )
        return note_id

    notes = [await note(omar, text) for text, _ in MENTIONS]
    look_alike_notes = [await note(omar, text) for text in LOOK_ALIKES]
    await note(zoe, "Dear Zoë, she asked us to call 207-555-0199.")  # hers: erased
    deal = await conn.fetchval(
        "INSERT INTO deals (tenant_id, contact_id, title, description) "
        "VALUES ($1, $2, 'Acme renewal (Zoë)', 'Champion: Zoe Simic-Novak, "
        "zoe.simic@example.com') RETURNING id",
        TENANT,
        zoe,
    )
    await conn.execute(
        "INSERT INTO messages (tenant_id, channel, contact_id, direction, sender, recipients, "
        "subject, body) VALUES ($1, 'email', $2, 'inbound', 'zsn@private.example', "
        "'{mia@crm.example}', 'Hello', 'Hi, it''s Zoë. Reach me at zoe.simic@example.com')",
        TENANT,
        zoe,
    )
    message = await conn.fetchval(
        "INSERT INTO messages (tenant_id, channel, contact_id, user_id, direction, sender, "
        "recipients, cc, subject, body) VALUES ($1, 'email', $2, $3, 'outbound', "
        "'mia@crm.example', '{omar@example.com}', '{zoe.simic@example.com}', "
        "'Fwd: Zoë Šimić', 'Forwarding Zoë Šimić''s note') RETURNING id",
        TENANT,
        omar,
        mia,
    )
    await conn.execute(
        "INSERT INTO messages (tenant_id, channel, contact_id, direction, sender, body) "
        "VALUES ($1, 'whatsapp', $2, 'inbound', '+44 20 7946 0958', 'Hi it''s Zoë')",
        TENANT,
        petrovic,
    )
    event = await conn.fetchval(
        "INSERT INTO usage_events (tenant_id, user_id, event, page) VALUES ($1, $2, 'search', "
        "'/contacts?q=Zo%C3%AB+%C5%A0imi%C4%87-Novak') RETURNING id",
        TENANT,
        mia,
    )
    files = {}
    for name, kind, data, _ in TEXT_FILES:
        files[name] = await _file(w, TENANT, omar, name, kind, data=data)
    for name, kind, data in REVIEW_FILES:
        files[name] = await _file(w, TENANT, omar, name, kind, data=data)
    files["cv.txt"] = await _file(w, TENANT, zoe, "cv.txt", "text/plain", data="Zoë Šimić".encode())
    # The same person in another tenant: not this tenant's to touch.
    other = await _contact(
        conn,
        BYSTANDER,
        "Zoë",
        "Šimić-Novak",
        "zoe.simic@example.com",
        "(207) 946-0958",
        "12 Harbour Rd, Portland",
        "{}",
    )
    await note(other, "Zoë Šimić-Novak called from (207) 946-0958.", BYSTANDER)
    await _file(w, BYSTANDER, other, "zoe.txt", "text/plain", data="Zoë Šimić-Novak".encode())
    return Ids(zoe, petrovic, liam, omar, mia, notes, look_alike_notes, deal, message, event, files)


TABLES = (
    "tenants",
    "users",
    "contacts",
    "notes",
    "deals",
    "messages",
    "files",
    "usage_events",
    "sessions",
    "billing_contacts",
    "channel_credentials",
)


async def rows(conn: asyncpg.Connection, tenant: str) -> dict[str, dict[int, str]]:
    """Every row of a tenant, as JSON, by table and id."""
    out: dict[str, dict[int, str]] = {}
    for table in TABLES:
        key = "0" if table == "tenants" else "id"
        found = await conn.fetch(
            f"SELECT {key} AS id, row_to_json(t)::text AS row FROM {table} t WHERE tenant_id = $1",
            tenant,
        )
        out[table] = {r["id"]: r["row"] for r in found}
    return out


# Her identifiers, as a reader finds them in folded text (normalize.fold). A name is
# no part of a longer word, name or email address ("zoe.simic@example.org" is not hers).
_NOT_BEFORE = r"(?<![\w@.-])"
_NOT_AFTER = r"(?![\w@-]|\.\w)"
RESIDUE = [
    re.compile(p)
    for p in (
        rf"{_NOT_BEFORE}zoe\W{{1,3}}simic{_NOT_AFTER}",
        rf"{_NOT_BEFORE}zoe\W{{1,3}}novak{_NOT_AFTER}",
        r"simic-novak",
        rf"{_NOT_BEFORE}simic{_NOT_AFTER}",
        r"zoe\.simic@example\.com",
        r"zoe dot simic at example dot com",
        r"zsn@private\.example",
        r"@zoesn\b",
        r"12 harbour rd\W{1,3}portland",
    )
]
HER_NUMBERS = {"+12079460958", "+12075550199"}


def residue(text: str) -> list[str]:
    folded = fold(text)
    found = [p.pattern for p in RESIDUE if p.search(folded)]
    found += [p.e164 for _, _, p in phones.find(folded, "US") if p.e164 in HER_NUMBERS]
    return found


def blob_views(store: BlobStore, tenant: str, skip: set[str]) -> dict[str, str]:
    """Every blob of the tenant, as the text its readers see (documents.text_views)."""
    out = {}
    for key, data in blob_view.stored(store, tenant).items():
        if key not in skip:
            views = documents.text_views(data, "application/octet-stream", key)
            out[key] = "\n".join(views)
    return out


async def _run(w: World, settings: Settings, anonymize: bool, who: pb.Subject) -> pb.Job:
    async def submit(client: PrivacyClient) -> pb.Job:
        return await (client.anonymize if anonymize else client.erase)(TENANT, who)

    return await w.run(settings, submit)


@pytest.fixture
async def world(
    server_url: str, template_db: str, tmp_path: Path, blob_backend: str
) -> Any:  # an async generator of World
    async with World(server_url, template_db, tmp_path, blob_backend) as w:
        yield w


def _dump_of(w: World, tenant: str) -> str:
    """The pg_dump's lines of one tenant's rows (each COPY line starts with tenant_id)."""
    others = tuple(f"{t}\t" for t in (TENANT, BYSTANDER) if t != tenant)
    return "\n".join(line for line in pg_dump(w.url).splitlines() if not line.startswith(others))


@dataclass
class Before:
    """The world as it was: her tenant's rows, the bystander tenant, the audit log."""

    rows: dict[str, dict[int, str]]
    bystander: dict[str, dict[int, str]]
    bystander_blobs: dict[str, bytes]
    audit: list[asyncpg.Record]


async def _before(w: World) -> Before:
    return Before(
        await rows(w.conn, TENANT),
        await rows(w.conn, BYSTANDER),
        blob_view.stored(w.blobs, BYSTANDER),
        await w.conn.fetch("SELECT * FROM privacy_audit_log ORDER BY tenant_id, seq"),
    )


async def _common_checks(w: World, ids: Ids, was: Before, job: pb.Job) -> dict[str, dict[int, str]]:
    """What every right must leave: nothing of her but in the files listed for review;
    look-alikes, the other tenant and the audit log's past as they were."""
    before = was.rows
    assert job.state == pb.JOB_STATE_SUCCEEDED, job.error_message
    review = {item.file_id: item.reason for item in job.needs_review}
    assert set(review) == {ids.files[name] for name, _, _ in REVIEW_FILES}, review
    assert all(item.data_type == "files" for item in job.needs_review)
    assert not any(residue(reason) for reason in review.values())
    review_keys = {
        r["blob_key"]
        for r in await w.conn.fetch("SELECT blob_key FROM files WHERE id = ANY($1)", list(review))
    }
    # Nothing of her in the database (the review files' rows name no one) or any blob.
    assert residue(_dump_of(w, TENANT)) == []
    for key, text in blob_views(w.blobs, TENANT, review_keys).items():
        assert residue(text) == [], key
    after = await rows(w.conn, TENANT)
    for table, record_id in (
        ("contacts", ids.petrovic),
        ("contacts", ids.liam),
        ("contacts", ids.omar),
        *(("notes", n) for n in ids.look_alike_notes),
        ("files", ids.files["petrovic.txt"]),
    ):
        assert after[table][record_id] == before[table][record_id], (table, record_id)
    petrovic_messages = await w.conn.fetch(
        "SELECT body FROM messages WHERE contact_id = $1", ids.petrovic
    )
    assert [m["body"] for m in petrovic_messages] == ["Hi it's Zoë"]
    assert await rows(w.conn, BYSTANDER) == was.bystander
    assert blob_view.stored(w.blobs, BYSTANDER) == was.bystander_blobs
    assert blob_view.leftovers(w.blobs) == []  # no old version, no delete marker
    audit_after = await w.conn.fetch("SELECT * FROM privacy_audit_log ORDER BY tenant_id, seq")
    assert audit_after[: len(was.audit)] == was.audit
    assert len(audit_after) > len(was.audit)
    assert residue("\n".join(str(dict(r)) for r in audit_after)) == []
    assert await w.conn.fetchval("SELECT count(*) FROM privacy_job_identifiers") == 0
    return after


async def test_erase_finds_her_however_she_is_written_and_no_one_else(
    world: World, settings: Settings
) -> None:
    w = world
    ids = await build(w)
    was = await _before(w)

    # Her number in another format than stored: the London number shares its digits.
    job = await _run(w, settings, False, subject(phone="+1 207 946 0958"))
    after = await _common_checks(w, ids, was, job)

    assert ids.zoe not in after["contacts"]
    for note_id, (_, expected) in zip(ids.notes, MENTIONS, strict=True):
        body = await w.conn.fetchval("SELECT body FROM notes WHERE id = $1", note_id)
        assert body == expected
    deal = await one(w.conn, "SELECT * FROM deals WHERE id = $1", ids.deal)
    assert (deal["contact_id"], deal["title"], deal["description"]) == (
        None,
        f"Acme renewal ({R})",  # her own deal: her given name alone is hers
        f"Champion: {R}, {R}",
    )
    message = await one(w.conn, "SELECT * FROM messages WHERE id = $1", ids.message)
    assert (message["cc"], message["subject"], message["body"]) == (
        [R],
        f"Fwd: {R}",
        f"Forwarding {R}'s note",
    )
    page = await w.conn.fetchval("SELECT page FROM usage_events WHERE id = $1", ids.event)
    assert page == f"/contacts?q={PCT}"
    for name, _, _, expected_bytes in TEXT_FILES:
        row = await one(w.conn, "SELECT * FROM files WHERE id = $1", ids.files[name])
        contents = blob_view.read(w.blobs, row["blob_key"])
        assert contents == expected_bytes, name
        assert row["sha256"] == hashlib.sha256(contents).hexdigest()
    assert ids.files["cv.txt"] not in after["files"]

    # The operator decides on each file listed for review: deleting one is an Erase.
    pdf_id = ids.files["report.pdf"]
    key = await w.conn.fetchval("SELECT blob_key FROM files WHERE id = $1", pdf_id)
    done = await _run(w, settings, False, subject(file_id=pdf_id))
    assert done.state == pb.JOB_STATE_SUCCEEDED, done.error_message
    assert await w.conn.fetchval("SELECT count(*) FROM files WHERE id = $1", pdf_id) == 0
    assert blob_view.read(w.blobs, key) is None
    assert await w.conn.fetchval("SELECT count(*) FROM files WHERE tenant_id = $1", TENANT) == (
        len(after["files"]) - 1
    )


async def test_anonymize_gives_her_one_fake_per_identifier_everywhere(
    world: World, settings: Settings
) -> None:
    w = world
    ids = await build(w)
    was = await _before(w)

    job = await _run(w, settings, True, subject(email="ZOE.SIMIC@example.COM"))
    after = await _common_checks(w, ids, was, job)

    her = await one(w.conn, "SELECT * FROM contacts WHERE id = $1", ids.zoe)
    first, last, email, phone = her["first_name"], her["last_name"], her["email"], her["phone"]
    family = last.split("-")
    assert len(family) == 2
    assert first != "Zoë"
    assert her["custom_fields"] == "{}"
    notes = [await w.conn.fetchval("SELECT body FROM notes WHERE id = $1", n) for n in ids.notes]
    # The fakes of her row are the ones her mentions got, however they were written.
    assert notes[0] == (
        f"Met {last}, {first} at the fair; she prefers "
        f"{first.upper()} {family[0].upper()} on badges."
    )
    assert notes[1] == f"Call Ms. {family[0]} at {phone}, not Liam Novak at (207) 946-0959."
    assert notes[7] == f"{family[0]} called back."
    message = await one(w.conn, "SELECT * FROM messages WHERE id = $1", ids.message)
    assert message["cc"] == [email]
    assert message["subject"] == f"Fwd: {first} {family[0]}"
    deal = await one(w.conn, "SELECT * FROM deals WHERE id = $1", ids.deal)
    assert deal["contact_id"] == ids.zoe
    assert deal["title"] == f"Acme renewal ({first})"
    assert deal["description"] == f"Champion: {first} {last}, {email}"
    for table in TABLES:  # anonymized, not deleted
        assert set(after[table]) == set(was.rows[table]), table


# Two people whose numbers share their national digits, in two countries.
NUMBERS = {
    "maine": ("Ruth", "Baxter", "(207) 946-0958"),
    "london": ("Hugh", "Pemberton", "+44 20 7946 0958"),
}
WRITTEN = {
    "maine": ["+1 207 946 0958", "207.946.0958", "1-207-946-0958", "+12079460958"],
    "london": ["+44 20 7946 0958", "+44 (0)20 7946 0958", "0044 20 7946 0958", "+442079460958"],
}


@pytest.mark.parametrize(
    ("who", "written"), [(who, w) for who, forms in WRITTEN.items() for w in forms]
)
async def test_erasing_a_number_never_touches_the_same_digits_abroad(
    world: World, settings: Settings, who: str, written: str
) -> None:
    w = world
    await w.conn.execute("INSERT INTO tenants (tenant_id, name) VALUES ($1, 'Acme')", TENANT)
    ids = {}
    for key, (first, last, phone) in NUMBERS.items():
        ids[key] = await _contact(w.conn, TENANT, first, last, None, phone, None, "{}")
        await w.conn.execute(
            "INSERT INTO messages (tenant_id, channel, contact_id, direction, sender, body) "
            "VALUES ($1, 'sms', $2, 'inbound', $3, 'call me back')",
            TENANT,
            ids[key],
            phone,
        )
        await _file(w, TENANT, ids[key], f"{key}.txt", "text/plain", data=phone.encode())
    other_id = await _contact(w.conn, TENANT, "Omar", "Haddad", None, None, None, "{}")
    await w.conn.execute(
        "INSERT INTO notes (tenant_id, contact_id, body) VALUES ($1, $2, $3)",
        TENANT,
        other_id,
        "Ruth: (207) 946-0958. Hugh: +44 20 7946 0958.",
    )
    before = await rows(w.conn, TENANT)
    blobs_before = blob_view.stored(w.blobs)

    job = await _run(w, settings, False, subject(phone=written))
    assert job.state == pb.JOB_STATE_SUCCEEDED, job.error_message

    after = await rows(w.conn, TENANT)
    gone, kept = (ids["maine"], ids["london"]) if who == "maine" else (ids["london"], ids["maine"])
    assert gone not in after["contacts"]
    assert after["contacts"][kept] == before["contacts"][kept]
    for table in ("messages", "files"):
        theirs = {k: v for k, v in before[table].items() if f'"contact_id":{kept},' in v}
        assert theirs, table
        assert all(after[table].get(k) == v for k, v in theirs.items()), table
    # Their file is gone; the other's, which holds the other number, is as it was.
    now = blob_view.stored(w.blobs)
    left = {key: data for key, data in blobs_before.items() if key in now}
    assert len(left) == len(blobs_before) - 1
    assert all(now[key] == data for key, data in left.items())
    assert blob_view.leftovers(w.blobs) == []
    note = await w.conn.fetchval("SELECT body FROM notes WHERE contact_id = $1", other_id)
    assert note == (
        f"Ruth: {R}. Hugh: +44 20 7946 0958."
        if who == "maine"
        else f"Ruth: (207) 946-0958. Hugh: {R}."
    )


async def test_a_file_changed_after_it_was_indexed_is_read_again(
    world: World, settings: Settings
) -> None:
    w = world
    await w.conn.execute("INSERT INTO tenants (tenant_id, name) VALUES ($1, 'Acme')", TENANT)
    ruth = await _contact(w.conn, TENANT, "Ruth", "Baxter", "ruth@example.com", None, None, "{}")
    hugh = await _contact(w.conn, TENANT, "Hugh", "Pemberton", "hugh@example.com", None, None, "{}")
    omar = await _contact(w.conn, TENANT, "Omar", "Haddad", None, None, None, "{}")
    file_id = await _file(
        w, TENANT, omar, "memo.txt", "text/plain", data=b"Lunch with Ruth Baxter."
    )
    done = await _run(w, settings, False, subject(contact_id=ruth))  # indexes every file
    assert done.state == pb.JOB_STATE_SUCCEEDED, done.error_message
    key = await w.conn.fetchval("SELECT blob_key FROM files WHERE id = $1", file_id)
    assert blob_view.read(w.blobs, key) == f"Lunch with {R}.".encode()
    # The index holds keyed hashes, not the words of anyone's files.
    lexemes = await w.conn.fetchval(
        "SELECT array_to_string(tsvector_to_array(tokens), ' ') FROM privacy_file_tokens "
        "WHERE file_id = $1",
        file_id,
    )
    assert lexemes
    assert all(re.fullmatch("[0-9a-f]{16}", x) for x in lexemes.split())
    # The CRM writes new contents (and their digest): the next job reads them again.
    data = b"Call Hugh Pemberton, hugh@example.com."
    w.blobs.put(TENANT, key, data)
    await w.conn.execute(
        "UPDATE files SET sha256 = $2, size_bytes = $3 WHERE id = $1",
        file_id,
        hashlib.sha256(data).hexdigest(),
        len(data),
    )
    done = await _run(w, settings, False, subject(contact_id=hugh))
    assert done.state == pb.JOB_STATE_SUCCEEDED, done.error_message
    assert blob_view.read(w.blobs, key) == f"Call {R}, {R}.".encode()
