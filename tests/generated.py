"""Small generated tenants for property tests: people who share first names,
companies and message threads, and who mention each other, in every way a CRM's
text writes a person (names in each order and form, HTML entities, percent-encoding,
JSON escapes, decomposed diacritics, typographic punctuation), with a second email
in their custom fields and files of each format about them, beside look-alikes
(the same email local part at another domain, the same first name).

Full names, family names, emails, phones and handles are unique per person (a
property test of "nothing of S remains" needs S's identifiers to be S's alone);
first names and companies are shared on purpose.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import quote

import asyncpg
from hypothesis import strategies as st

from demo.rows import (
    BillingRow,
    ContactRow,
    CredentialRow,
    DealRow,
    EventRow,
    FileRow,
    MessageRow,
    NoteRow,
    Plan,
    SessionRow,
    UserRow,
)
from demo.writer import insert_tenant, write
from server.blobs import BlobStore
from tests.helpers.documents import pdf

FIRST = ("Ann", "Ben", "Cleo", "Zoë")  # few, so people share them
LAST = ("Abbott", "Baker", "Castillo", "Šimić", "Eriksen", "Fontaine", "Øster", "Haddad")
# A second tenant's people: nobody shares a full name with the first tenant's.
OTHER_LAST = ("Ibsen", "Jansen", "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Petrov")
COMPANIES = ("Acme Corp", "Globex")
CHANNELS = ("email", "sms", "whatsapp", "telegram", "livechat")
PHONE_STYLES = ("+1 ({a}) {b}-{c}", "{a}-{b}-{c}", "+1{a}{b}{c}", "({a}) {b} {c}")


@dataclass(frozen=True)
class Person:
    first: str
    last: str
    email: str
    phone: str
    handle: str
    visitor: str
    company: str
    email2: str = ""  # a second email, in their custom fields only

    @property
    def full_name(self) -> str:
        return f"{self.first} {self.last}"

    def identifiers(self) -> list[str]:
        """What must not survive the person's erasure, as written anywhere."""
        found = [self.full_name, self.email, self.phone, self.handle, self.visitor]
        return found + ([self.email2] if self.email2 else [])


def ascii_of(text: str) -> str:
    """A name as an email or handle writes it: no diacritics."""
    plain = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return plain.replace("Ø", "O").replace("ø", "o")


# How a note spells a person (Spelling.form) and how its text hides characters.
FORMS = ("full", "reversed", "title", "family", "upper", "email", "email2", "phone")
ENCODINGS = ("plain", "nfd", "html", "percent", "json", "typographic", "ascii")
# File formats of other people's files about someone; "pdf" is a document the job
# cannot rewrite: it lists it for review.
FORMATS = ("txt", "csv", "json", "html", "md", "vcf", "ics", "pdf")
REDACTED = "[redacted]"


@dataclass(frozen=True)
class Spelling:
    """A note on `owner`'s contact naming person `about` (of people + staff) in one
    form and encoding, or naming a look-alike of theirs."""

    owner: int
    about: int
    form: str
    encoding: str
    look_alike: bool = False


_ENCODINGS: dict[str, Callable[[str], str]] = {
    "nfd": lambda text: unicodedata.normalize("NFD", text),
    "html": lambda text: "".join(c if c.isascii() and c != "'" else f"&#{ord(c)};" for c in text),
    "percent": lambda text: quote(text, safe=""),
    "json": lambda text: json.dumps(text)[1:-1],
    "typographic": lambda text: text.replace("'", "\u2019").replace("-", "\u2013"),
    "ascii": ascii_of,
}


def _encode(text: str, encoding: str) -> str:
    encode = _ENCODINGS.get(encoding)
    return text if encode is None else encode(text)


def spelled(s: Spelling, p: Person) -> tuple[str, str]:
    """The note's text, and what it becomes when `p` is erased."""
    if s.look_alike:
        local = p.email.partition("@")[0]
        text = f"Ask {local}@elsewhere.example or {p.first} Nobody-{s.owner}."
        return text, text
    kept, form = {
        "full": ("", p.full_name),
        "reversed": ("", f"{p.last}, {p.first}"),
        "title": ("Ms. ", p.last),
        "family": ("", p.last),
        "upper": ("", p.full_name.upper()),
        "email": ("", p.email),
        "email2": ("", p.email2 or p.email),
        "phone": ("", p.phone),
    }[s.form]
    written = _encode(kept + form, s.encoding)
    if s.encoding == "percent":
        replaced = quote(kept, safe="") + quote(REDACTED, safe="")
        if "%" not in written:  # nothing was encoded: nothing to encode the replacement as
            replaced = kept + REDACTED
    else:
        replaced = _encode(kept, s.encoding) + REDACTED
    return f"Note on it: {written} (see).", f"Note on it: {replaced} (see)."


@dataclass(frozen=True)
class Document:
    """A file of `owner`'s contact about person `about` (of people + staff)."""

    owner: int
    about: int
    format: str


def document(d: Document, p: Person) -> tuple[str, str, bytes]:
    """(file name, content type, contents) of a document about p."""
    full, email = p.full_name, p.email
    if d.format == "pdf":
        page = f"BT /F1 12 Tf 72 720 Td ({ascii_of(full)} {email}) Tj ET".encode()
        return "about.pdf", "application/pdf", pdf(page, author=b"Records")
    contents = {
        "txt": ("about.txt", "text/plain", f"Met {full}, {email}.\n"),
        "csv": ("about.csv", "text/csv", f"name,email\r\n{full},{email}\r\n"),
        "json": ("about.json", "application/json", json.dumps({"name": full, "mail": email})),
        "html": ("about.html", "text/html", f"<p>{_encode(full, 'html')} &lt;{email}&gt;</p>"),
        "md": ("about.md", "text/markdown", f"# Contacts\n\n* **{p.last}, {p.first}**\n"),
        "vcf": ("about.vcf", "text/vcard", f"BEGIN:VCARD\r\nFN:{full}\r\nEND:VCARD\r\n"),
        "ics": ("about.ics", "text/calendar", f"ATTENDEE;CN={full}:mailto:{email}\r\n"),
    }[d.format]
    return contents[0], contents[1], contents[2].encode()


@dataclass(frozen=True)
class Message:
    owner: int  # index of the contact the message belongs to
    channel: str
    inbound: bool
    mentions: int | None  # another person the body names, if any
    cc: int | None  # another person copied on an email thread, if any
    thread: int


@dataclass(frozen=True)
class Note:
    owner: int
    mentions: int | None


@dataclass(frozen=True)
class TenantSpec:
    people: list[Person]
    staff: list[Person]
    messages: list[Message]
    notes: list[Note]
    deals: list[int]  # owners
    files: list[int]  # owners
    extra: dict[str, int] = field(default_factory=dict)
    spellings: list[Spelling] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)


def _phone(i: int, style: int) -> str:
    a, b, c = f"{201 + i * 7}", "555", f"{1000 + i * 37:04d}"
    return PHONE_STYLES[style % len(PHONE_STYLES)].format(a=a, b=b, c=c)


@st.composite
def tenants(
    draw: st.DrawFn, min_people: int = 2, max_people: int = 4, last_names: tuple[str, ...] = LAST
) -> TenantSpec:
    n = draw(st.integers(min_people, max_people))
    lasts = draw(st.permutations(last_names))[: n + 2]
    domain = "mail.example" if last_names == LAST else "other.example"
    firsts = [draw(st.sampled_from(FIRST)) for _ in range(n + 2)]
    people = []
    for i in range(n + 2):
        first, last = firsts[i], lasts[i]
        plain = ascii_of(f"{first}.{last}{i}").lower()
        people.append(
            Person(
                first=first,
                last=last,
                email=f"{plain}@{domain}",
                phone=_phone(i + (0 if last_names == LAST else 50), draw(st.integers(0, 3))),
                handle=f"@{plain.replace('.', '')}",
                visitor=f"visitor-{hashlib.sha1(f'{first}{last}{i}'.encode()).hexdigest()[:8]}",
                company=draw(st.sampled_from(COMPANIES)),
                # Contacts have custom fields to hold a second email; staff do not.
                email2=f"{plain}@second.example" if i < n else "",
            )
        )
    contacts, staff = people[:n], people[n:]
    others = st.one_of(st.none(), st.integers(0, n - 1))
    messages = [
        Message(
            owner=owner,
            channel=draw(st.sampled_from(CHANNELS)),
            inbound=draw(st.booleans()),
            mentions=draw(others),
            cc=draw(others),
            thread=draw(st.integers(0, 2)),  # few threads: people share them
        )
        for owner in range(n)
        for _ in range(draw(st.integers(1, 3)))
    ]
    notes = [
        Note(owner, draw(others)) for owner in range(n) for _ in range(draw(st.integers(0, 2)))
    ]
    deals = [owner for owner in range(n) if draw(st.booleans())]
    files = [owner for owner in range(n) if draw(st.booleans())]
    everyone = st.integers(0, len(people) - 1)
    spellings = [
        Spelling(
            owner=draw(st.integers(0, n - 1)),
            about=draw(everyone),
            form=draw(st.sampled_from(FORMS)),
            encoding=draw(st.sampled_from(ENCODINGS)),
            look_alike=draw(st.integers(0, 4)) == 0,
        )
        for _ in range(draw(st.integers(0, 4)))
    ]
    docs = [
        Document(draw(st.integers(0, n - 1)), draw(everyone), draw(st.sampled_from(FORMATS)))
        for _ in range(draw(st.integers(0, 3)))
    ]
    return TenantSpec(
        contacts, staff, messages, notes, deals, files, spellings=spellings, documents=docs
    )


def _address(p: Person, channel: str, *, theirs: bool) -> str:
    if channel == "email":
        return p.email
    if channel in ("sms", "whatsapp"):
        return p.phone
    return p.handle if channel == "telegram" else p.visitor


def plan_of(spec: TenantSpec, device: str) -> Plan:
    """The tenant's rows; `device` names its staff's devices (device-<device>-<n>)."""
    plan = Plan()
    for i, s in enumerate(spec.staff):
        plan.users.append(
            UserRow(email=s.email, name=s.full_name, display_name=s.first, password_hash="argon2$x")
        )
        dev = f"device-{device}-{i}"
        plan.sessions.append(
            SessionRow(
                user=i,
                token_hash="h",
                ip="203.0.113.77",
                user_agent="Mozilla/5.0 (Windows NT 10.0) Chrome/120.0",
                device_id=dev,
                expires_in=timedelta(days=1),
            )
        )
        plan.events.append(
            EventRow(
                i, "view", f"/users/{s.email}", "2001:db8:1:2::7", "Mozilla/5.0 (Macintosh)", dev
            )
        )
        plan.billing.append(
            BillingRow(i, s.full_name, s.email, s.phone, address="1 Main St, Springfield")
        )
        plan.credentials.append(CredentialRow(i, "gmail", s.email, "ya29.secret"))
    agent = spec.staff[0]
    for p in spec.people:
        plan.contacts.append(
            ContactRow(
                first_name=p.first,
                last_name=p.last,
                email=p.email,
                phone=p.phone,
                address="9 Elm St, Shelbyville",
                company=p.company,
                birthday=date(1990, 5, 17),
                custom_fields=json.dumps(
                    {"telegram": p.handle, "tier": "gold", "email2": p.email2}
                ),
                owner=0,
            )
        )
    people = spec.people
    for m in spec.messages:
        p = people[m.owner]
        mine = _address(p, m.channel, theirs=True)
        ours = agent.email if m.channel == "email" else f"{m.channel}-desk"
        sender, recipient = (mine, ours) if m.inbound else (ours, mine)
        body = f"Hello, this is about {p.company} for {p.full_name}."
        if m.mentions is not None and m.mentions != m.owner:
            body += f" {people[m.mentions].full_name} ({people[m.mentions].email}) agreed."
        cc = (people[m.cc].email,) if m.channel == "email" and m.cc not in (None, m.owner) else ()
        plan.messages.append(
            MessageRow(
                channel=m.channel,
                contact=m.owner,
                direction="inbound" if m.inbound else "outbound",
                sender=sender,
                body=body,
                user=0,
                thread_id=f"thread-{m.thread}",
                recipients=(recipient,),
                cc=cc,
                subject=f"Re: {p.company} renewal" if m.channel == "email" else None,
            )
        )
    for n in spec.notes:
        body = f"Called {people[n.owner].full_name} on {people[n.owner].phone}."
        if n.mentions is not None and n.mentions != n.owner:
            body += f" Ask {people[n.mentions].full_name} too, {people[n.mentions].phone}."
        plan.notes.append(NoteRow(contact=n.owner, body=body, author=0))
    for owner in spec.deals:
        plan.deals.append(
            DealRow(
                contact=owner,
                title=f"{people[owner].company} expansion",
                description=f"Champion: {people[owner].full_name}, {people[owner].email}",
                amount=Decimal(1200),
            )
        )
    everyone = spec.people + spec.staff
    for sp in spec.spellings:  # after the notes above: Written.notes ends with these
        text, _ = spelled(sp, everyone[sp.about])
        plan.notes.append(NoteRow(contact=sp.owner, body=text))
    for doc in spec.documents:  # before the contracts: Written.files starts with these
        name, kind, data = document(doc, everyone[doc.about])
        plan.files.append(FileRow(contact=doc.owner, name=name, content_type=kind, data=data))
    for owner in spec.files:
        p = people[owner]
        data = f"Contract between {p.company} and {p.full_name} <{p.email}>\n".encode()
        plan.files.append(
            FileRow(
                contact=owner,
                name=f"{p.first}_{p.last}_contract.txt",
                content_type="text/plain",
                data=data,
            )
        )
    return plan


async def insert(
    conn: asyncpg.Connection, blobs: BlobStore, tenant: str, spec: TenantSpec
) -> dict[str, list[int]]:
    """Write the tenant; return the ids it made, by table."""
    await insert_tenant(conn, tenant, tenant)
    written = await write(conn, blobs, tenant, plan_of(spec, tenant))
    spellings = len(spec.spellings)
    return {
        "contacts": written.contacts,
        "users": written.users,
        "spellings": written.notes[len(written.notes) - spellings :],
        "documents": written.files[: len(spec.documents)],
    }
