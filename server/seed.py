"""Demo tenants: realistic, reproducible AtomiCRM data for demos, benchmarks and tests.

`seed_tenant` fills one new tenant with staff users, contacts and everything
around them: messages on every channel, notes, deals, files (with their blobs),
sessions, usage events, billing contacts and channel credentials.

Two promises the tests build on:

* Reproducible: the same (tenant_id, contacts, seed, users, messages_per_contact)
  give the same rows, byte for byte, except row ids, timestamps (they are relative
  to now), blob keys and the tenant key. All randomness comes from one seeded
  Faker and one seeded random.Random; nothing touches the global random state.
* Separable: a contact's identifiers (email, phone, full name, Telegram handle,
  live-chat visitor id) appear only in that contact's own records: its row, rows
  with its contact_id, deals linked to it and its files. They never appear in
  another contact's records or in the staff users' rows, not even as a substring,
  case-insensitively. So a test can erase one contact and then search the whole
  tenant for its identifiers. How each kind of identifier is kept apart:
  - full names: no full name contains another (see _NameRegistry), and generated
    free text (companies, addresses, filler) is checked to mention none;
  - emails end in a per-contact number after a non-digit ("jane.doe+42@..."),
    so no address is a substring of another;
  - phones have distinct national numbers (last ten digits) in the fictional
    555 area code with a 0xx exchange, and staff and company lines use their own
    exchanges;
  - Telegram handles are letters plus exactly two digits, so none is a prefix of
    another; visitor ids are fixed-length hex.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import random
import re
import struct
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import TypeVar

import asyncpg
from faker import Faker

from server.blobs import BlobStore
from server.errors import InvalidArgument, PrivacyError

MAX_CONTACTS = 100_000
MIN_MESSAGES_PER_CONTACT = 5  # one per channel
# Contacts planned, stored and copied at a time; measured fastest at 10k contacts.
_CHUNK = 2500

_T = TypeVar("_T")
_TENANT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


@dataclass(frozen=True)
class SeedSummary:
    """How many rows of each kind seed_tenant created."""

    tenant_id: str
    users: int
    contacts: int
    deals: int
    notes: int
    messages: int
    files: int
    sessions: int
    usage_events: int


class TenantExists(PrivacyError):
    """That tenant exists already; choose another id."""


async def seed_tenant(
    conn: asyncpg.Connection,
    blobs: BlobStore,
    tenant_id: str,
    *,
    contacts: int,
    seed: int = 0,
    users: int = 3,
    messages_per_contact: int = 6,
) -> SeedSummary:
    """Create tenant `tenant_id` and fill it with demo data, in one transaction.

    Raises TenantExists if the tenant exists already. Blobs are written before the
    commit; if anything fails they are deleted again (best effort).
    """
    _validate(tenant_id, contacts=contacts, users=users, messages=messages_per_contact)
    stored = _StoredBlobs(blobs, tenant_id)
    # One worker thread plans a chunk of contacts and stores its blobs while the
    # event loop copies the previous chunk: our CPU work overlaps the server's.
    # One thread, not more: the loop mostly waits on the server, so the worker
    # has the GIL to itself (more threads were slower, not faster).
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seed")
    try:
        async with conn.transaction():
            exists = await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM tenants WHERE tenant_id = $1)", tenant_id
            )
            if exists:
                raise TenantExists()
            planner = await _run(
                worker,
                partial(
                    _Planner,
                    seed,
                    contacts=contacts,
                    users=users,
                    messages_per_contact=messages_per_contact,
                ),
            )
            await _insert_tenant(conn, tenant_id, planner.tenant_company)
            writer = _Writer(conn, tenant_id)
            await writer.staff(await _run(worker, partial(_prepare_staff, planner, stored)))
            prepare = partial(_prepare_contacts, planner, stored)
            await _write_contacts(writer, worker, prepare, contacts)
    except BaseException:
        # Also on cancellation: the rows are rolled back, so the blobs are orphans.
        # Wait for the worker first, so the list of stored blobs is complete.
        worker.shutdown(wait=True, cancel_futures=True)
        stored.undo()
        raise
    finally:
        worker.shutdown(wait=False)
    return writer.summary()


def _validate(tenant_id: str, *, contacts: int, users: int, messages: int) -> None:
    if not _TENANT_ID.fullmatch(tenant_id):
        # Also keeps blob keys ("<tenant>/<hex>") inside the blob directory.
        raise InvalidArgument("tenant_id", "1-63 letters, digits, '.', '_' or '-'")
    if not 0 <= contacts <= MAX_CONTACTS:
        raise InvalidArgument("contacts", f"must be between 0 and {MAX_CONTACTS}")
    if users < 1:
        raise InvalidArgument("users", "must be at least 1 (the owner)")
    if messages < MIN_MESSAGES_PER_CONTACT:
        raise InvalidArgument(
            "messages_per_contact", f"must be at least {MIN_MESSAGES_PER_CONTACT}"
        )


# --------------------------------------------------------------------------- #
# Plans: the rows to insert, with foreign keys as indexes (ids are only known
# once allocated) and times as ages before "now".
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, slots=True)
class _UserRow:
    email: str
    name: str
    display_name: str
    password_hash: str
    picture: bytes
    is_owner: bool
    age: timedelta


@dataclass(frozen=True, slots=True)
class _ContactRow:
    first_name: str
    last_name: str
    email: str
    phone: str
    address: str
    company: str
    birthday: date | None
    custom_fields: str  # JSON text: what asyncpg's jsonb codec takes
    owner: int
    age: timedelta


@dataclass(frozen=True, slots=True)
class _DealRow:
    contact: int
    title: str
    description: str
    amount: Decimal
    currency: str
    stage: str
    age: timedelta


@dataclass(frozen=True, slots=True)
class _NoteRow:
    contact: int
    deal: int | None
    author: int
    body: str
    age: timedelta


@dataclass(frozen=True, slots=True)
class _MessageRow:
    channel: str
    contact: int
    user: int
    direction: str
    thread_id: str
    sender: str
    recipients: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str | None
    body: str
    age: timedelta


@dataclass(frozen=True, slots=True)
class _FileRow:
    contact: int
    message: int | None
    name: str
    content_type: str
    data: bytes
    age: timedelta


@dataclass(frozen=True, slots=True)
class _SessionRow:
    user: int
    token_hash: str
    ip: str
    user_agent: str
    device_id: str
    age: timedelta
    expires_in: timedelta


@dataclass(frozen=True, slots=True)
class _EventRow:
    user: int
    event: str
    page: str
    ip: str
    user_agent: str
    device_id: str
    age: timedelta


@dataclass(frozen=True, slots=True)
class _BillingRow:
    user: int
    name: str
    email: str
    phone: str
    address: str
    vat_number: str


@dataclass(frozen=True, slots=True)
class _CredentialRow:
    user: int
    channel: str
    account: str
    secret: str
    age: timedelta


@dataclass
class _Plan:
    """Rows to insert. Foreign keys are indexes: users count from the tenant's first
    user, contacts, deals and messages from the plan's first."""

    users: list[_UserRow] = field(default_factory=list)
    contacts: list[_ContactRow] = field(default_factory=list)
    deals: list[_DealRow] = field(default_factory=list)
    notes: list[_NoteRow] = field(default_factory=list)
    messages: list[_MessageRow] = field(default_factory=list)
    files: list[_FileRow] = field(default_factory=list)
    sessions: list[_SessionRow] = field(default_factory=list)
    events: list[_EventRow] = field(default_factory=list)
    billing: list[_BillingRow] = field(default_factory=list)
    credentials: list[_CredentialRow] = field(default_factory=list)
    # Blob keys of users' pictures and of files, once stored.
    picture_keys: list[str] = field(default_factory=list)
    file_keys: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- #
# Keeping identifiers apart
# --------------------------------------------------------------------------- #


class _Rng(random.Random):
    """random.Random plus cheaper picks: choice() and randint() cost ~2 us, these
    ~0.3 us, and the planner makes a few hundred thousand of them."""

    def pick(self, seq: Sequence[_T]) -> _T:
        return seq[int(self.random() * len(seq))]

    def between(self, low: int, high: int) -> int:
        """An int from low to high, both included."""
        return low + int(self.random() * (high - low + 1))


class _NameRegistry:
    """Full names in use; refuses a name that contains, or is inside, another.

    Names are "First Last" with no space inside either part, so "F L" occurs in
    "F' L'" exactly when F ends F' and L starts L' ("Dan Lee" in "Jordan Leeds").
    The same test finds a name in any text, at each space between two words.
    Everything is compared in lower case, as an ILIKE search would.
    """

    def __init__(self) -> None:
        self._lasts_by_first: dict[str, list[str]] = {}
        self._firsts_by_last_prefix: dict[str, list[str]] = {}
        self._first_lengths: set[int] = set()

    def clashes(self, first: str, last: str) -> bool:
        f, la = first.lower(), last.lower()
        # Would contain a known name: its first name ends ours, its last starts ours.
        for k in range(1, len(f) + 1):
            if any(la.startswith(other) for other in self._lasts_by_first.get(f[-k:], ())):
                return True
        # Would be inside a known name.
        return any(other.endswith(f) for other in self._firsts_by_last_prefix.get(la, ()))

    def add(self, first: str, last: str) -> None:
        f, la = first.lower(), last.lower()
        self._lasts_by_first.setdefault(f, []).append(la)
        self._first_lengths.add(len(f))
        for k in range(1, len(la) + 1):
            self._firsts_by_last_prefix.setdefault(la[:k], []).append(f)

    def mentioned_in(self, text: str) -> bool:
        """Whether any registered full name occurs in text."""
        words = text.lower().split(" ")
        for before, after in itertools.pairwise(words):
            for k in self._first_lengths:
                lasts = self._lasts_by_first.get(before[-k:]) if k <= len(before) else None
                if lasts and any(after.startswith(last) for last in lasts):
                    return True
        return False


class _PhoneBook:
    """Distinct US national numbers in the fictional 555 area code.

    The exchange says whose line it is: 000 the tenant's business lines, 001-009
    staff, 010-099 contacts. An exchange starting with 0 is never assigned for
    real, so no real person's number appears.
    """

    def __init__(self, rng: _Rng) -> None:
        self._rng = rng
        self._used: set[str] = set()

    def new(self, exchanges: range) -> str:
        """A new national number: ten digits."""
        while True:
            number = f"555{self._rng.pick(exchanges):03d}{self._rng.between(0, 9999):04d}"
            if number not in self._used:
                self._used.add(number)
                return number


def _format_phone(national: str, style: int) -> str:
    """The same number as people type it; the last ten digits never change."""
    a, e, n = national[:3], national[3:6], national[6:]
    styles = (
        f"+1 ({a}) {e}-{n}",
        f"{a}-{e}-{n}",
        f"+1{a}{e}{n}",
        f"({a}) {e}-{n}",
        f"{a}.{e}.{n}",
        f"+1 {a} {e} {n}",
    )
    return styles[style % len(styles)]


def _e164(national: str) -> str:
    return f"+1{national}"


def _letters(text: str) -> str:
    return "".join(c for c in text.lower() if "a" <= c <= "z")


def _slug(company: str) -> str:
    words = [w for w in re.findall(r"[A-Za-z]+", company) if w.lower() not in _COMPANY_WORDS]
    return "".join(words[:2]).lower() or "company"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _png(text: str, rgb: tuple[int, int, int]) -> bytes:
    """A valid 1x1 PNG whose tEXt chunk carries text (for a profile picture)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1x1, 8-bit RGB
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", header),
            chunk(b"tEXt", b"Author\x00" + text.encode("latin-1", "replace")),
            chunk(b"IDAT", zlib.compress(b"\x00" + bytes(rgb))),
            chunk(b"IEND", b""),
        )
    )


# --------------------------------------------------------------------------- #
# Wording. Filler is checked against every full name before use; the templates
# put punctuation or words no name begins or ends with next to the names.
# --------------------------------------------------------------------------- #

_DASH = "\N{EN DASH}"
_CHANNELS = ("email", "sms", "whatsapp", "telegram", "livechat")
# Channels of the messages beyond the first one per channel, by frequency.
_EXTRA_CHANNELS = ("email",) * 8 + ("sms",) * 3 + ("whatsapp",) * 4 + ("telegram", "livechat") * 2
_COMPANY_SUFFIXES = ("Inc", "LLC", "Group", "Ltd", "PLC", "and Sons", "Partners", "Labs")
_COMPANY_WORDS = {"inc", "llc", "group", "ltd", "plc", "and", "sons", "partners", "labs"}
_FREE_MAIL = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "proton.me")
_STAGES = ("open", "qualified", "proposal", "negotiation", "won", "lost")
_DEAL_KINDS = ("renewal", "expansion", "pilot", "new business", "annual plan", "upsell")
_LEAD_SOURCES = ("webinar", "referral", "trade show", "website", "cold outreach", "partner")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
_TOPICS = (
    "pricing for the annual plan",
    "the onboarding timeline",
    "single sign-on and user provisioning",
    "a discount for a two-year term",
    "migrating data from their old CRM",
    "the security questionnaire",
    "connecting their shared inbox",
    "renewal terms",
    "adding more seats for the sales team",
    "API rate limits",
    "the reporting dashboard",
    "a reference customer in their industry",
)
_FILLER = (
    "Let me know if you have any questions.",
    "Looking forward to hearing from you.",
    "I have attached the latest version for your review.",
    "Can we schedule a quick call later this week?",
    "Our legal team is reviewing the contract.",
    "Budget approval is expected by the end of the quarter.",
    "They asked for a case study from a similar company.",
    "Procurement needs a tax form before signing.",
    "The pilot went well and the team wants to expand.",
    "Please send over the updated quote.",
    "The decision is expected after the board meeting.",
    "They are comparing us with two other vendors.",
    "Implementation could start next month.",
    "Happy to set up a demo for the rest of the team.",
    "Thanks again for your time today.",
    "The invoice was sent to their accounts payable team.",
    "Their contract ends in March, so timing is good.",
    "Security review is done; waiting on the signature.",
    "They would like a discount if they commit to two years.",
    "Onboarding is scheduled for the first week of next month.",
    "Their IT team needs single sign-on before rollout.",
    "The current tool is too slow for their support team.",
    "We agreed to revisit pricing after the trial.",
    "I will send a summary of today's call.",
    "Could you share the updated headcount?",
    "The renewal quote is ready for review.",
)
_SMS_OUT = (
    "Hi {first}, it's {agent} from {tenant}. Are we still on for {day} at {hour}pm?",
    "Hi {first}, your demo with {tenant} is confirmed for {day}.",
    "Quick reminder: our call is {day} at {hour}pm. Reply STOP to opt out.",
    "Thanks {first}! I just emailed you the quote.",
)
_SMS_IN = (
    "Yes, {day} works. Thanks, {full}",
    "This is {full} from {company}, please call me back when you can.",
    "Running ten minutes late, sorry!",
    "Got it, thanks.",
)
_CHAT_IN = (
    "Hi, I'm {full} from {company} ({email}). {question}",
    "Hello, this is {full}. {question} You can reach me at {email}.",
    "{question} - {full}",
)
_QUESTIONS = (
    "Do you offer a discount for nonprofits?",
    "How do I export my contacts?",
    "Can I connect two inboxes to one account?",
    "Is there a free trial?",
    "Where can I download the invoice?",
    "Does it integrate with our calendar?",
)
_CHAT_OUT = (
    "Thanks {first}! {answer}",
    "Hi {first}, happy to help. {answer}",
    "Good question. {answer}",
)
_ANSWERS = (
    "I have sent the details to your email.",
    "You can find it under Settings, then Billing.",
    "Yes, and setup takes about five minutes.",
    "Let me loop in our onboarding team.",
)
_EMAIL_SUBJECTS = (
    "Intro call with {full}",
    "Proposal for {full} at {company}",
    "Follow-up: {full} / {tenant}",
    "{full} {dash} onboarding questions",
    "Meeting notes ({full})",
    "Contract for {full}",
)
_ATTACHMENTS = (
    ("signed_NDA", "pdf", "application/pdf"),
    ("purchase_order", "pdf", "application/pdf"),
    ("id_scan", "png", "image/png"),
    ("requirements", "txt", "text/plain"),
    ("team_list", "csv", "text/csv"),
)
_USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36",
    "AtomiCRM-iOS/3.12.0 (iPhone15,2; iOS 17.4)",
)
_EVENTS = (
    ("login", "/login"),
    ("view_contacts", "/contacts"),
    ("view_deal", "/deals"),
    ("send_email", "/inbox"),
    ("export_csv", "/contacts/export"),
    ("update_profile", "/settings/profile"),
    ("view_billing", "/settings/billing"),
    ("search", "/search"),
)


@dataclass(frozen=True, slots=True)
class _Contact:
    """A contact's identity, as its rows and messages quote it."""

    index: int
    first: str
    last: str
    f: str  # first name in lower-case letters only, for addresses and handles
    la: str  # same for the last name
    email: str
    phone: str  # as stored on the contact
    national: str  # its ten digits
    handle: str  # Telegram
    visitor: str  # live chat
    company: str
    owner: int
    age: timedelta

    @property
    def full(self) -> str:
        return f"{self.first} {self.last}"


@dataclass(frozen=True, slots=True)
class _Staff:
    first: str
    last: str
    email: str

    @property
    def full(self) -> str:
        return f"{self.first} {self.last}"


class _Planner:
    """Builds a tenant's rows from a seed: the same inputs give the same plan."""

    def __init__(self, seed: int, *, contacts: int, users: int, messages_per_contact: int) -> None:
        self.n_users = users
        self.n_contacts = contacts
        self.messages_per_contact = messages_per_contact
        self.fake = Faker("en_US")
        self.fake.seed_instance(seed)
        self.rng = _Rng(seed)
        self.names = _NameRegistry()
        self.phones = _PhoneBook(self.rng)
        # Faker's weighted name pickers are slow (~70 us a call): draw pools once
        # and pick from them with rng. Repeats in the pools keep Faker's weights.
        size = min(1500, 100 + 10 * (contacts + users))
        self.first_pool = [self.fake.first_name() for _ in range(size)]
        self.last_pool = [self.fake.last_name() for _ in range(size)]
        # All names before any free text, so every text can be checked against all.
        self.staff_names = [self._new_name() for _ in range(users)]
        self.contact_names = [self._new_name() for _ in range(contacts)]

        self.tenant_company = self._company(set())
        self.tenant_domain = f"{_slug(self.tenant_company)}.com"
        self.sms_line = _e164(self.phones.new(range(0, 1)))
        self.whatsapp_line = _e164(self.phones.new(range(0, 1)))
        self.bot = f"@{_slug(self.tenant_company)[:20]}_bot"
        self.filler = self._clean([*_FILLER, *self._faker_filler(10)])
        pool = max(30, min(400, contacts // 10))
        # Checked with what may follow them in an address, so addresses need no check.
        streets = [self.fake.street_name() for _ in range(pool)]
        self.streets = self._clean(streets, followed_by=" Apt. 1 Suite")
        self.cities = self._clean(
            [
                f"{self.fake.city()}, {self.fake.state_abbr()} {self.fake.zipcode()}"
                for _ in range(pool)
            ]
        )
        # About five contacts per company, so companies are shared.
        taken = {self.tenant_company}
        self.companies = [self._company(taken) for _ in range(max(1, contacts // 5))]
        self.domains = {c: f"{_slug(c)}.com" for c in self.companies}
        # Email tags: unique numbers that keep every address distinct.
        self.tags = self.rng.sample(range(10, 10 + 20 * contacts + 1000), contacts)
        self.handles: set[str] = set()
        self.visitors: set[str] = set()
        self.staff: list[_Staff] = []
        self.colleagues: list[list[str]] = []

    def staff_plan(self) -> _Plan:
        """The users and everything of theirs. Call first, once."""
        plan = _Plan()
        for i, (first, last) in enumerate(self.staff_names):
            self.staff.append(self._add_user(plan, i, first, last))
        # Whom a user may copy on an email: the other users.
        self.colleagues = [[o.email for o in self.staff if o is not s] for s in self.staff]
        return plan

    def contacts_plan(self, start: int, stop: int) -> _Plan:
        """Contacts start to stop-1 and everything of theirs. Call in order."""
        plan = _Plan()
        for i in range(start, stop):
            first, last = self.contact_names[i]
            company = self.rng.pick(self.companies)
            contact = self._contact_identity(len(plan.contacts), first, last, company, self.tags[i])
            self._add_contact(plan, contact)
        return plan

    # -- names and free text ------------------------------------------------

    def _new_name(self) -> tuple[str, str]:
        for _ in range(100_000):
            first, last = self.rng.pick(self.first_pool), self.rng.pick(self.last_pool)
            if not self.names.clashes(first, last):
                self.names.add(first, last)
                return first, last
        raise RuntimeError("ran out of distinct names")  # far beyond MAX_CONTACTS

    def _clean(self, texts: Sequence[str], followed_by: str = "") -> list[str]:
        """Drop texts that happen to mention someone's full name."""
        unique = dict.fromkeys(texts)
        kept = [t for t in unique if not self.names.mentioned_in(t + followed_by)]
        if not kept:
            raise RuntimeError("every generated text mentions a name")
        return kept

    def _faker_filler(self, count: int) -> list[str]:
        return [f"The goal this year is to {self.fake.bs()}." for _ in range(count)]

    def _some_filler(self, low: int, high: int) -> str:
        """low to high distinct filler sentences (a run of the pool, from anywhere)."""
        pool, count = self.filler, self.rng.between(low, high)
        start = self.rng.between(0, len(pool) - 1)
        return " ".join(pool[(start + i) % len(pool)] for i in range(count))

    def _company(self, taken: set[str]) -> str:
        """A new company name like Faker's ("Lee Group", "Ross-Kim"), mentioning no one."""
        rng, lasts = self.rng, self.last_pool
        while True:
            r = rng.random()
            if r < 0.5:
                name = f"{rng.pick(lasts)} {rng.pick(_COMPANY_SUFFIXES)}"
            elif r < 0.8:
                name = f"{rng.pick(lasts)}-{rng.pick(lasts)}"
            else:
                name = f"{rng.pick(lasts)}, {rng.pick(lasts)} and {rng.pick(lasts)}"
            if name not in taken and not self.names.mentioned_in(name):
                taken.add(name)
                return name

    def _address(self) -> str:
        rng = self.rng
        street = f"{rng.between(1, 9999)} {rng.pick(self.streets)}"
        kind = rng.random()
        if kind < 0.15:
            street += f" Apt. {rng.between(1, 40)}"
        elif kind < 0.25:
            street += f" Suite {rng.between(100, 900)}"
        return f"{street}, {rng.pick(self.cities)}"

    def _age(self, low_days: float, high_days: float) -> timedelta:
        """How long before now something happened."""
        return timedelta(seconds=int(self.rng.uniform(low_days, high_days) * 86_400))

    def _hex(self, digits: int) -> str:
        return f"{self.rng.getrandbits(4 * digits):0{digits}x}"

    # -- staff ----------------------------------------------------------------

    def _add_user(self, plan: _Plan, i: int, first: str, last: str) -> _Staff:
        rng = self.rng
        email = f"{_letters(first)}.{_letters(last)}@{self.tenant_domain}"
        full = f"{first} {last}"
        display = rng.pick((first, f"{first} {last[0]}.", full))
        password_hash = (
            f"$argon2id$v=19$m=65536,t=3,p=4${_b64(rng.randbytes(16))}${_b64(rng.randbytes(32))}"
        )
        color = (rng.between(0, 255), rng.between(0, 255), rng.between(0, 255))
        plan.users.append(
            _UserRow(
                email=email,
                name=full,
                display_name=display,
                password_hash=password_hash,
                picture=_png(full, color),
                is_owner=i == 0,
                age=self._age(400, 900),
            )
        )
        devices = self._add_sessions(plan, i)
        for _ in range(rng.between(4, 6)):
            event, page = rng.pick(_EVENTS)
            ip, agent, device = rng.pick(devices)
            plan.events.append(_EventRow(i, event, page, ip, agent, device, self._age(0, 30)))
        if i == 0:
            plan.billing.append(
                _BillingRow(
                    user=i,
                    name=full,
                    email=email,
                    phone=_format_phone(self.phones.new(range(1, 10)), rng.between(0, 5)),
                    address=self._address(),
                    vat_number=f"EIN {self.fake.ein()}",
                )
            )
        self._add_credentials(plan, i, email)
        return _Staff(first, last, email)

    def _add_sessions(self, plan: _Plan, user: int) -> list[tuple[str, str, str]]:
        """Two sessions (one IPv4, one IPv6); returns their (ip, agent, device)."""
        rng = self.rng
        devices = []
        for ipv6 in (False, True):
            if ipv6:  # documentation ranges: never a real person's address
                ip = f"2001:db8:{rng.between(1, 0xFFFE):x}::{rng.between(1, 0xFFFE):x}"
            else:
                net = rng.pick(("192.0.2", "198.51.100", "203.0.113"))
                ip = f"{net}.{rng.between(1, 254)}"
            agent = rng.pick(_USER_AGENTS)
            device = f"dev_{self._hex(16)}"
            age = self._age(0, 20)
            plan.sessions.append(
                _SessionRow(
                    user=user,
                    token_hash=hashlib.sha256(rng.randbytes(32)).hexdigest(),
                    ip=ip,
                    user_agent=agent,
                    device_id=device,
                    age=age,
                    expires_in=timedelta(days=30) - age,
                )
            )
            devices.append((ip, agent, device))
        return devices

    def _add_credentials(self, plan: _Plan, user: int, email: str) -> None:
        """Every user's mailbox; the first three also hold one business line each."""
        rng = self.rng
        age = self._age(30, 300)
        plan.credentials.append(
            _CredentialRow(user, "email", email, f"ya29.{_b64(rng.randbytes(48))}", age)
        )
        extra = user % 4
        if extra == 0:
            plan.credentials.append(_CredentialRow(user, "sms", self.sms_line, self._hex(32), age))
        elif extra == 1:
            secret = f"EAAG{_b64(rng.randbytes(60))}"
            plan.credentials.append(
                _CredentialRow(user, "whatsapp", self.whatsapp_line, secret, age)
            )
        elif extra == 2:
            secret = f"{rng.between(10**9, 10**10 - 1)}:AA{_b64(rng.randbytes(24))}"
            plan.credentials.append(_CredentialRow(user, "telegram", self.bot, secret, age))

    # -- contacts ---------------------------------------------------------------

    def _contact_identity(
        self, index: int, first: str, last: str, company: str, tag: int
    ) -> _Contact:
        rng = self.rng
        f, la = _letters(first), _letters(last)
        # The unique tag right before "@", after a non-digit, makes no address a
        # substring of another.
        local = rng.pick(
            (
                f"{f}.{la}+{tag}",
                f"{f}.{la}{tag}",
                f"{f[0]}{la}{tag}",
                f"{f}_{la}{tag}",
                f"{la}.{f}{tag}",
            )
        )
        if rng.random() < 0.2:  # some people type their address capitalized
            local = local.replace(f, f.capitalize(), 1).replace(la, la.capitalize(), 1)
        domain = self.domains[company] if rng.random() < 0.6 else rng.pick(_FREE_MAIL)
        national = self.phones.new(range(10, 100))
        while True:  # letters then exactly two digits: no handle is a prefix of another
            stem = rng.pick((f"{f}{la}", f"{f}_{la}", f"{f[0]}{la}", f"{la}{f}"))
            handle = f"@{stem}{rng.between(10, 99)}"
            if handle not in self.handles:
                self.handles.add(handle)
                break
        while True:
            visitor = f"visitor-{self._hex(12)}"
            if visitor not in self.visitors:
                self.visitors.add(visitor)
                break
        return _Contact(
            index=index,
            first=first,
            last=last,
            f=f,
            la=la,
            email=f"{local}@{domain}",
            phone=_format_phone(national, rng.between(0, 5)),
            national=national,
            handle=handle,
            visitor=visitor,
            company=company,
            owner=rng.between(0, self.n_users - 1),
            age=self._age(14, 730),
        )

    def _add_contact(self, plan: _Plan, c: _Contact) -> None:
        rng = self.rng
        birthday = None
        if rng.random() < 0.85:
            birthday = date.fromordinal(
                rng.between(date(1955, 1, 1).toordinal(), date(2004, 12, 31).toordinal())
            )
        slug = f"{c.f}-{c.la}-{self._hex(6)}"
        custom = {
            "linkedin": f"https://www.linkedin.com/in/{slug}",
            "telegram": c.handle,
            "preferred_channel": rng.pick(_CHANNELS),
            "lead_source": rng.pick(_LEAD_SOURCES),
            "lead_score": rng.between(1, 100),
            "newsletter": rng.random() < 0.5,
        }
        plan.contacts.append(
            _ContactRow(
                first_name=c.first,
                last_name=c.last,
                email=c.email,
                phone=c.phone,
                address=self._address(),
                company=c.company,
                birthday=birthday,
                custom_fields=json.dumps(custom),
                owner=c.owner,
                age=c.age,
            )
        )
        deal = self._add_deal(plan, c) if rng.random() < 0.5 else None
        self._add_notes(plan, c, deal)
        self._add_messages(plan, c)
        self._add_contract(plan, c)

    def _add_deal(self, plan: _Plan, c: _Contact) -> int:
        rng = self.rng
        plan.deals.append(
            _DealRow(
                contact=c.index,
                # The title names only the company: it is not the contact's data.
                title=f"{c.company} {_DASH} {rng.pick(_DEAL_KINDS)}",
                description=f"Champion: {c.full}. {self._some_filler(1, 2)}",
                amount=Decimal(rng.between(500_00, 50_000_00)) / 100,
                currency=rng.pick(("USD", "USD", "USD", "EUR", "GBP")),
                stage=rng.pick(_STAGES),
                age=c.age * rng.random(),
            )
        )
        return len(plan.deals) - 1

    def _add_notes(self, plan: _Plan, c: _Contact, deal: int | None) -> None:
        rng = self.rng
        bodies = [
            f"Call with {c.full} ({c.email}): discussed {rng.pick(_TOPICS)}. "
            f"{self._some_filler(0, 2)}".rstrip()
        ]
        if rng.random() < 0.5:
            bodies.append(
                f"Sent the follow-up to {c.email}. {c.full} prefers {rng.pick(_CHANNELS)}; "
                f"best reached at {c.phone}."
            )
        for n, body in enumerate(bodies):
            plan.notes.append(
                _NoteRow(
                    contact=c.index,
                    deal=deal if n == 1 else None,
                    author=rng.pick((c.owner, rng.between(0, self.n_users - 1))),
                    body=body,
                    age=c.age * rng.random(),
                )
            )

    def _add_messages(self, plan: _Plan, c: _Contact) -> None:
        """One thread per channel; extra messages continue the threads."""
        rng = self.rng
        staff = self.staff[c.owner]
        # What the conversations quote; one meeting and one question per contact.
        words = {
            "first": c.first,
            "full": c.full,
            "email": c.email,
            "company": c.company,
            "tenant": self.tenant_company,
            "agent": staff.first,
            "day": rng.pick(_WEEKDAYS),
            "hour": str(rng.between(1, 5)),
            "dash": _DASH,
            "question": rng.pick(_QUESTIONS),
            "answer": rng.pick(_ANSWERS),
        }
        per_channel = dict.fromkeys(_CHANNELS, 1)
        for _ in range(self.messages_per_contact - len(_CHANNELS)):
            per_channel[rng.pick(_EXTRA_CHANNELS)] += 1
        for channel, count in per_channel.items():
            # Oldest first; live chat and Telegram start with the contact writing.
            ages = sorted((c.age * rng.random() for _ in range(count)), reverse=True)
            inbound = channel in ("telegram", "livechat") or rng.random() < 0.5
            thread = f"{channel}-{self._hex(12)}"
            subject = rng.pick(_EMAIL_SUBJECTS).format(**words) if channel == "email" else ""
            for n, age in enumerate(ages):
                message = self._message(channel, c, staff, words, inbound, thread, subject, n, age)
                plan.messages.append(message)
                if channel == "email" and rng.random() < 0.15:
                    self._add_attachment(plan, c, len(plan.messages) - 1, age)
                inbound = not inbound

    def _message(
        self,
        channel: str,
        c: _Contact,
        staff: _Staff,
        words: dict[str, str],
        inbound: bool,
        thread: str,
        thread_subject: str,
        n: int,
        age: timedelta,
    ) -> _MessageRow:
        """Message n of a thread, between the contact and its owner."""
        rng = self.rng
        subject: str | None = None
        cc: tuple[str, ...] = ()
        if channel == "email":
            ours, theirs = staff.email, c.email
            subject = f"Re: {thread_subject}" if n else thread_subject
            if inbound:
                body = (
                    f"Hi {staff.first},\n\n{self._some_filler(1, 3)}\n\n"
                    f"Thanks,\n{c.full}\n{c.company}\n{c.phone}"
                )
            else:
                body = (
                    f"Dear {c.full},\n\n{self._some_filler(1, 3)}\n\n"
                    f"Best regards,\n{staff.full}\n{self.tenant_company}"
                )
                colleagues = self.colleagues[c.owner]
                if colleagues and rng.random() < 0.2:
                    cc = (rng.pick(colleagues),)
        elif channel in ("sms", "whatsapp"):
            if channel == "sms":
                ours, theirs = self.sms_line, c.phone
            else:  # WhatsApp numbers are always international
                ours, theirs = self.whatsapp_line, _e164(c.national)
            body = rng.pick(_SMS_IN if inbound else _SMS_OUT).format(**words)
        elif channel == "telegram":
            ours, theirs = self.bot, c.handle
            body = rng.pick(_SMS_IN if inbound else _SMS_OUT).format(**words)
        else:  # livechat: the visitor talks to an agent
            ours, theirs = staff.email, c.visitor
            body = rng.pick(_CHAT_IN if inbound else _CHAT_OUT).format(**words)
        sender, recipient = (theirs, ours) if inbound else (ours, theirs)
        return _MessageRow(
            channel=channel,
            contact=c.index,
            user=c.owner,
            direction="inbound" if inbound else "outbound",
            thread_id=thread,
            sender=sender,
            recipients=(recipient,),
            cc=cc,
            subject=subject,
            body=body,
            age=age,
        )

    def _file_name(self, c: _Contact, what: str, ext: str) -> str:
        return f"{c.f.capitalize()}_{c.la.capitalize()}_{what}.{ext}"

    def _add_contract(self, plan: _Plan, c: _Contact) -> None:
        text = (
            f"SERVICE AGREEMENT\n\nBetween: {self.tenant_company}\nAnd: {c.company}\n\n"
            f"Signed by: {c.full} <{c.email}>\nPhone: {c.phone}\n\n"
            f"{self._some_filler(2, 4)}\n"
        )
        plan.files.append(
            _FileRow(
                contact=c.index,
                message=None,
                name=self._file_name(c, "contract", "pdf"),
                content_type="application/pdf",
                data=b"%PDF-1.4\n" + text.encode(),
                age=c.age * self.rng.random(),
            )
        )

    def _add_attachment(self, plan: _Plan, c: _Contact, message: int, age: timedelta) -> None:
        what, ext, content_type = self.rng.pick(_ATTACHMENTS)
        if ext == "png":
            data = _png(f"{c.full} <{c.email}>", (200, 200, 200))
        elif ext == "csv":
            data = f"name,email,phone\n{c.full},{c.email},{c.phone}\n".encode()
        else:
            text = f"{what.replace('_', ' ').title()}\n\nFrom: {c.full} <{c.email}>\n"
            data = (b"%PDF-1.4\n" if ext == "pdf" else b"") + text.encode()
        plan.files.append(
            _FileRow(
                contact=c.index,
                message=message,
                name=self._file_name(c, what, ext),
                content_type=content_type,
                data=data,
                age=age,
            )
        )


# --------------------------------------------------------------------------- #
# Writing the plan
# --------------------------------------------------------------------------- #


async def _insert_tenant(conn: asyncpg.Connection, tenant_id: str, name: str) -> None:
    try:
        await conn.execute("INSERT INTO tenants (tenant_id, name) VALUES ($1, $2)", tenant_id, name)
    except asyncpg.UniqueViolationError as exc:  # created meanwhile by someone else
        raise TenantExists() from exc
    # The tenant's key is made by the service on first use, wrapped by its keyring.


class _StoredBlobs:
    """The blobs this seed stored, to delete them again if it fails."""

    def __init__(self, blobs: BlobStore, tenant_id: str) -> None:
        self._blobs = blobs
        self._tenant_id = tenant_id
        self._keys: list[str] = []

    def store(self, data: bytes) -> str:
        key = self._blobs.new_key(self._tenant_id)
        self._keys.append(key)  # first: a put that fails halfway is undone too
        self._blobs.put(self._tenant_id, key, data)
        return key

    def undo(self) -> None:
        for key in self._keys:
            try:
                self._blobs.delete(self._tenant_id, key)
            except Exception:  # best effort: one failure must not stop the rest
                continue


def _prepare_staff(planner: _Planner, stored: _StoredBlobs) -> _Plan:
    """The users' plan, with their pictures stored. Runs in the worker thread."""
    plan = planner.staff_plan()
    plan.picture_keys = [stored.store(u.picture) for u in plan.users]
    return plan


def _prepare_contacts(planner: _Planner, stored: _StoredBlobs, start: int) -> _Plan:
    """A chunk of contacts, with their files stored. Runs in the worker thread."""
    plan = planner.contacts_plan(start, min(start + _CHUNK, planner.n_contacts))
    plan.file_keys = [stored.store(f.data) for f in plan.files]
    return plan


async def _run(worker: ThreadPoolExecutor, fn: Callable[[], _T]) -> _T:
    return await asyncio.wrap_future(worker.submit(fn))


async def _write_contacts(
    writer: _Writer, worker: ThreadPoolExecutor, prepare: Callable[[int], _Plan], total: int
) -> None:
    """Copy the contacts chunk by chunk while the worker prepares the next chunk."""

    def submit(start: int) -> asyncio.Future[_Plan]:
        return asyncio.wrap_future(worker.submit(prepare, start))

    pending = submit(0) if total else None
    try:
        for start in range(0, total, _CHUNK):
            assert pending is not None
            chunk = await pending
            following = start + _CHUNK
            pending = submit(following) if following < total else None
            await writer.contacts(chunk)
    finally:
        if pending is not None:
            _forget(pending)


def _forget(future: asyncio.Future[_Plan]) -> None:
    """Drop a chunk no one will await; if it failed, mark the error as seen so that
    asyncio does not log it (the error that stopped the seed is the one raised)."""
    if not future.cancel() and not future.cancelled():
        future.exception()


class _Writer:
    """Copies plans into the tenant, allocating the ids their rows refer to."""

    def __init__(self, conn: asyncpg.Connection, tenant_id: str) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self.now = datetime.now(UTC)
        self.user_ids: list[int] = []
        self.counts: Counter[str] = Counter()

    def summary(self) -> SeedSummary:
        n = self.counts
        return SeedSummary(
            tenant_id=self.tenant_id,
            users=n["users"],
            contacts=n["contacts"],
            deals=n["deals"],
            notes=n["notes"],
            messages=n["messages"],
            files=n["files"],
            sessions=n["sessions"],
            usage_events=n["usage_events"],
        )

    async def _ids(self, table: str, count: int) -> list[int]:
        """Take ids from the table's identity sequence, which all tenants share."""
        if count == 0:
            return []
        ids = await self.conn.fetchval(
            "SELECT array(SELECT nextval(pg_get_serial_sequence($1, 'id'))"
            " FROM generate_series(1, $2))",
            table,
            count,
        )
        return list(ids)

    async def _copy(self, table: str, columns: str, records: list[tuple[object, ...]]) -> None:
        """COPY records into table; columns: space-separated, after tenant_id."""
        if records:
            await self.conn.copy_records_to_table(
                table, records=records, columns=["tenant_id", *columns.split()]
            )
        self.counts[table] += len(records)

    async def staff(self, plan: _Plan) -> None:
        self.user_ids = ids = await self._ids("users", len(plan.users))
        t, now = self.tenant_id, self.now
        # Parents before children: foreign keys are checked row by row.
        # fmt: off
        await self._copy("users", "id email name display_name password_hash profile_picture"
                         " is_owner created_at", [
            (t, ids[i], u.email, u.name, u.display_name, u.password_hash, plan.picture_keys[i],
             u.is_owner, now - u.age)
            for i, u in enumerate(plan.users)
        ])
        await self._copy("sessions", "user_id token_hash ip user_agent device_id created_at"
                         " expires_at", [
            (t, ids[s.user], s.token_hash, s.ip, s.user_agent, s.device_id, now - s.age,
             now + s.expires_in)
            for s in plan.sessions
        ])
        await self._copy("usage_events", "user_id event page ip user_agent device_id"
                         " occurred_at", [
            (t, ids[e.user], e.event, e.page, e.ip, e.user_agent, e.device_id, now - e.age)
            for e in plan.events
        ])
        await self._copy("billing_contacts", "user_id name email phone address vat_number", [
            (t, ids[b.user], b.name, b.email, b.phone, b.address, b.vat_number)
            for b in plan.billing
        ])
        await self._copy("channel_credentials", "user_id channel account secret created_at", [
            (t, ids[k.user], k.channel, k.account, k.secret, now - k.age)
            for k in plan.credentials
        ])
        # fmt: on

    async def contacts(self, plan: _Plan) -> None:
        # Only rows that others refer to need their ids up front; the rest take
        # the column default.
        contact_ids = await self._ids("contacts", len(plan.contacts))
        deal_ids = await self._ids("deals", len(plan.deals))
        message_ids = await self._ids("messages", len(plan.messages))
        t, now, users = self.tenant_id, self.now, self.user_ids
        # fmt: off
        await self._copy("contacts", "id first_name last_name email phone address company"
                         " birthday custom_fields owner_user_id created_at", [
            (t, contact_ids[i], c.first_name, c.last_name, c.email, c.phone, c.address,
             c.company, c.birthday, c.custom_fields, users[c.owner], now - c.age)
            for i, c in enumerate(plan.contacts)
        ])
        await self._copy("deals", "id contact_id title description amount currency stage"
                         " created_at", [
            (t, deal_ids[i], contact_ids[d.contact], d.title, d.description, d.amount,
             d.currency, d.stage, now - d.age)
            for i, d in enumerate(plan.deals)
        ])
        await self._copy("notes", "contact_id deal_id author_user_id body created_at", [
            (t, contact_ids[n.contact], None if n.deal is None else deal_ids[n.deal],
             users[n.author], n.body, now - n.age)
            for n in plan.notes
        ])
        await self._copy("messages", "id channel contact_id user_id direction thread_id sender"
                         " recipients cc subject body sent_at", [
            (t, message_ids[i], m.channel, contact_ids[m.contact], users[m.user], m.direction,
             m.thread_id, m.sender, list(m.recipients), list(m.cc), m.subject, m.body,
             now - m.age)
            for i, m in enumerate(plan.messages)
        ])
        await self._copy("files", "contact_id message_id name content_type size_bytes sha256"
                         " blob_key created_at", [
            (t, contact_ids[f.contact], None if f.message is None else message_ids[f.message],
             f.name, f.content_type, len(f.data), hashlib.sha256(f.data).hexdigest(),
             plan.file_keys[i], now - f.age)
            for i, f in enumerate(plan.files)
        ])
        # fmt: on
