"""Small generated tenants for property tests: people who share first names,
companies and message threads, and who mention each other.

Full names, emails, phones and handles are unique per person (a property test of
"nothing of S remains" needs S's identifiers to be S's alone); first names and
companies are shared on purpose.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import asyncpg
from hypothesis import strategies as st

from server.blobs import BlobStore

FIRST = ("Ann", "Ben", "Cleo")  # few, so people share them
LAST = ("Abbott", "Baker", "Castillo", "Dubois", "Eriksen", "Fontaine", "Garcia", "Haddad")
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

    @property
    def full_name(self) -> str:
        return f"{self.first} {self.last}"

    def identifiers(self) -> list[str]:
        """What must not survive the person's erasure, as written anywhere."""
        return [self.full_name, self.email, self.phone, self.handle, self.visitor]


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
        people.append(
            Person(
                first=first,
                last=last,
                email=f"{first}.{last}{i}@{domain}".lower(),
                phone=_phone(i + (0 if last_names == LAST else 50), draw(st.integers(0, 3))),
                handle=f"@{first}{last}{i}".lower(),
                visitor=f"visitor-{hashlib.sha1(f'{first}{last}{i}'.encode()).hexdigest()[:8]}",
                company=draw(st.sampled_from(COMPANIES)),
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
    return TenantSpec(contacts, staff, messages, notes, deals, files)


def _address(p: Person, channel: str, *, theirs: bool) -> str:
    if channel == "email":
        return p.email
    if channel in ("sms", "whatsapp"):
        return p.phone
    return p.handle if channel == "telegram" else p.visitor


async def insert(
    conn: asyncpg.Connection, blobs: BlobStore, tenant: str, spec: TenantSpec
) -> dict[str, list[int]]:
    """Write the tenant; return the ids it made, by table."""
    ids: dict[str, list[int]] = {"contacts": [], "users": []}
    await conn.execute("INSERT INTO tenants (tenant_id, name) VALUES ($1, $1)", tenant)
    for s in spec.staff:
        uid = await conn.fetchval(
            "INSERT INTO users (tenant_id, email, name, display_name, password_hash) "
            "VALUES ($1, $2, $3, $4, 'argon2$x') RETURNING id",
            tenant,
            s.email,
            s.full_name,
            s.first,
        )
        ids["users"].append(uid)
        await conn.execute(
            "INSERT INTO sessions (tenant_id, user_id, token_hash, ip, user_agent, device_id, "
            "expires_at) VALUES ($1, $2, 'h', '203.0.113.77', "
            "'Mozilla/5.0 (Windows NT 10.0) Chrome/120.0', $3, now() + interval '1 day')",
            tenant,
            uid,
            f"device-{uid}",
        )
        await conn.execute(
            "INSERT INTO usage_events (tenant_id, user_id, event, page, ip, user_agent, "
            "device_id) VALUES ($1, $2, 'view', $3, '2001:db8:1:2::7', 'Mozilla/5.0 (Macintosh)',"
            " $4)",
            tenant,
            uid,
            f"/users/{s.email}",
            f"device-{uid}",
        )
        await conn.execute(
            "INSERT INTO billing_contacts (tenant_id, user_id, name, email, phone, address) "
            "VALUES ($1, $2, $3, $4, $5, '1 Main St, Springfield')",
            tenant,
            uid,
            s.full_name,
            s.email,
            s.phone,
        )
        await conn.execute(
            "INSERT INTO channel_credentials (tenant_id, user_id, channel, account, secret) "
            "VALUES ($1, $2, 'gmail', $3, 'ya29.secret')",
            tenant,
            uid,
            s.email,
        )
    agent = spec.staff[0]
    for p in spec.people:
        cid = await conn.fetchval(
            "INSERT INTO contacts (tenant_id, first_name, last_name, email, phone, address, "
            "company, birthday, custom_fields, owner_user_id) VALUES ($1, $2, $3, $4, $5, "
            "'9 Elm St, Shelbyville', $6, '1990-05-17', $7, $8) RETURNING id",
            tenant,
            p.first,
            p.last,
            p.email,
            p.phone,
            p.company,
            f'{{"telegram": "{p.handle}", "tier": "gold"}}',
            ids["users"][0],
        )
        ids["contacts"].append(cid)
    people = spec.people
    for m in spec.messages:
        p = people[m.owner]
        mine = _address(p, m.channel, theirs=True)
        ours = agent.email if m.channel == "email" else f"{m.channel}-desk"
        sender, recipient = (mine, ours) if m.inbound else (ours, mine)
        body = f"Hello, this is about {p.company} for {p.full_name}."
        if m.mentions is not None and m.mentions != m.owner:
            body += f" {people[m.mentions].full_name} ({people[m.mentions].email}) agreed."
        cc = [people[m.cc].email] if m.channel == "email" and m.cc not in (None, m.owner) else []
        await conn.execute(
            "INSERT INTO messages (tenant_id, channel, contact_id, user_id, direction, "
            "thread_id, sender, recipients, cc, subject, body) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            tenant,
            m.channel,
            ids["contacts"][m.owner],
            ids["users"][0],
            "inbound" if m.inbound else "outbound",
            f"thread-{m.thread}",
            sender,
            [recipient],
            cc,
            f"Re: {p.company} renewal" if m.channel == "email" else None,
            body,
        )
    for n in spec.notes:
        body = f"Called {people[n.owner].full_name} on {people[n.owner].phone}."
        if n.mentions is not None and n.mentions != n.owner:
            body += f" Ask {people[n.mentions].full_name} too, {people[n.mentions].phone}."
        await conn.execute(
            "INSERT INTO notes (tenant_id, contact_id, author_user_id, body) "
            "VALUES ($1, $2, $3, $4)",
            tenant,
            ids["contacts"][n.owner],
            ids["users"][0],
            body,
        )
    for owner in spec.deals:
        await conn.execute(
            "INSERT INTO deals (tenant_id, contact_id, title, description, amount) "
            "VALUES ($1, $2, $3, $4, 1200)",
            tenant,
            ids["contacts"][owner],
            f"{people[owner].company} expansion",
            f"Champion: {people[owner].full_name}, {people[owner].email}",
        )
    for owner in spec.files:
        p = people[owner]
        data = f"Contract between {p.company} and {p.full_name} <{p.email}>\n".encode()
        key = blobs.new_key(tenant)
        blobs.put(key, data)
        await conn.execute(
            "INSERT INTO files (tenant_id, contact_id, name, content_type, size_bytes, sha256, "
            "blob_key) VALUES ($1, $2, $3, 'text/plain', $4, $5, $6)",
            tenant,
            ids["contacts"][owner],
            f"{p.first}_{p.last}_contract.txt",
            len(data),
            hashlib.sha256(data).hexdigest(),
            key,
        )
    return ids
