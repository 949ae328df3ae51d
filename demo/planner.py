"""Plans a demo tenant from a seed: the same inputs give the same rows.

All randomness comes from one seeded Faker and one seeded Rng; nothing touches
the global random state. Every name is drawn before any free text, so that each
text can be checked to mention none (demo/identities.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import date, timedelta

from faker import Faker

from demo import records
from demo.corpus import (
    CHANNELS,
    COMPANY_SUFFIXES,
    EVENTS,
    FILLER,
    FREE_MAIL,
    LEAD_SOURCES,
    USER_AGENTS,
)
from demo.identities import (
    Contact,
    NameRegistry,
    PhoneBook,
    Rng,
    Staff,
    b64,
    e164,
    format_phone,
    letters,
    png,
    slug,
)
from demo.rows import (
    BillingRow,
    ContactRow,
    CredentialRow,
    EventRow,
    Plan,
    SessionRow,
    UserRow,
)


class Planner:
    """Builds a tenant's rows from a seed: the same inputs give the same plan."""

    def __init__(self, seed: int, *, contacts: int, users: int, messages_per_contact: int) -> None:
        self.n_users = users
        self.n_contacts = contacts
        self.messages_per_contact = messages_per_contact
        self.fake = Faker("en_US")
        self.fake.seed_instance(seed)
        self.rng = Rng(seed)
        self.names = NameRegistry()
        self.phones = PhoneBook(self.rng)
        # Faker's weighted name pickers are slow (~70 us a call): draw pools once
        # and pick from them with rng. Repeats in the pools keep Faker's weights.
        size = min(1500, 100 + 10 * (contacts + users))
        self.first_pool = [self.fake.first_name() for _ in range(size)]
        self.last_pool = [self.fake.last_name() for _ in range(size)]
        # All names before any free text, so every text can be checked against all.
        self.staff_names = [self._new_name() for _ in range(users)]
        self.contact_names = [self._new_name() for _ in range(contacts)]

        self.tenant_company = self._company(set())
        self.tenant_domain = f"{slug(self.tenant_company)}.com"
        self.sms_line = e164(self.phones.new(range(0, 1)))
        self.whatsapp_line = e164(self.phones.new(range(0, 1)))
        self.bot = f"@{slug(self.tenant_company)[:20]}_bot"
        self.filler = self._clean([*FILLER, *self._faker_filler(10)])
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
        self.domains = {c: f"{slug(c)}.com" for c in self.companies}
        # Email tags: unique numbers that keep every address distinct.
        self.tags = self.rng.sample(range(10, 10 + 20 * contacts + 1000), contacts)
        self.handles: set[str] = set()
        self.visitors: set[str] = set()
        self.staff: list[Staff] = []
        self.colleagues: list[list[str]] = []

    def staff_plan(self) -> Plan:
        """The users and everything of theirs. Call first, once."""
        plan = Plan()
        for i, (first, last) in enumerate(self.staff_names):
            self.staff.append(self._add_user(plan, i, first, last))
        # Whom a user may copy on an email: the other users.
        self.colleagues = [[o.email for o in self.staff if o is not s] for s in self.staff]
        return plan

    def contacts_plan(self, start: int, stop: int) -> Plan:
        """Contacts start to stop-1 and everything of theirs. Call in order."""
        plan = Plan()
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

    def some_filler(self, low: int, high: int) -> str:
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
                name = f"{rng.pick(lasts)} {rng.pick(COMPANY_SUFFIXES)}"
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

    def hex_digits(self, digits: int) -> str:
        return f"{self.rng.getrandbits(4 * digits):0{digits}x}"

    # -- staff ----------------------------------------------------------------

    def _add_user(self, plan: Plan, i: int, first: str, last: str) -> Staff:
        rng = self.rng
        email = f"{letters(first)}.{letters(last)}@{self.tenant_domain}"
        full = f"{first} {last}"
        display = rng.pick((first, f"{first} {last[0]}.", full))
        password_hash = (
            f"$argon2id$v=19$m=65536,t=3,p=4${b64(rng.randbytes(16))}${b64(rng.randbytes(32))}"
        )
        color = (rng.between(0, 255), rng.between(0, 255), rng.between(0, 255))
        plan.users.append(
            UserRow(
                email=email,
                name=full,
                display_name=display,
                password_hash=password_hash,
                picture=png(full, color),
                is_owner=i == 0,
                age=self._age(400, 900),
            )
        )
        devices = self._add_sessions(plan, i)
        for _ in range(rng.between(4, 6)):
            event, page = rng.pick(EVENTS)
            ip, agent, device = rng.pick(devices)
            plan.events.append(EventRow(i, event, page, ip, agent, device, self._age(0, 30)))
        if i == 0:
            plan.billing.append(
                BillingRow(
                    user=i,
                    name=full,
                    email=email,
                    phone=format_phone(self.phones.new(range(1, 10)), rng.between(0, 5)),
                    address=self._address(),
                    vat_number=f"EIN {self.fake.ein()}",
                )
            )
        self._add_credentials(plan, i, email)
        return Staff(first, last, email)

    def _add_sessions(self, plan: Plan, user: int) -> list[tuple[str, str, str]]:
        """Two sessions (one IPv4, one IPv6); returns their (ip, agent, device)."""
        rng = self.rng
        devices = []
        for ipv6 in (False, True):
            if ipv6:  # documentation ranges: never a real person's address
                ip = f"2001:db8:{rng.between(1, 0xFFFE):x}::{rng.between(1, 0xFFFE):x}"
            else:
                net = rng.pick(("192.0.2", "198.51.100", "203.0.113"))
                ip = f"{net}.{rng.between(1, 254)}"
            agent = rng.pick(USER_AGENTS)
            device = f"dev_{self.hex_digits(16)}"
            age = self._age(0, 20)
            plan.sessions.append(
                SessionRow(
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

    def _add_credentials(self, plan: Plan, user: int, email: str) -> None:
        """Every user's mailbox; the first three also hold one business line each."""
        rng = self.rng
        age = self._age(30, 300)
        plan.credentials.append(
            CredentialRow(user, "email", email, f"ya29.{b64(rng.randbytes(48))}", age)
        )
        extra = user % 4
        if extra == 0:
            plan.credentials.append(
                CredentialRow(user, "sms", self.sms_line, self.hex_digits(32), age)
            )
        elif extra == 1:
            secret = f"EAAG{b64(rng.randbytes(60))}"
            plan.credentials.append(
                CredentialRow(user, "whatsapp", self.whatsapp_line, secret, age)
            )
        elif extra == 2:
            secret = f"{rng.between(10**9, 10**10 - 1)}:AA{b64(rng.randbytes(24))}"
            plan.credentials.append(CredentialRow(user, "telegram", self.bot, secret, age))

    # -- contacts ---------------------------------------------------------------

    def _contact_identity(
        self, index: int, first: str, last: str, company: str, tag: int
    ) -> Contact:
        rng = self.rng
        f, la = letters(first), letters(last)
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
        domain = self.domains[company] if rng.random() < 0.6 else rng.pick(FREE_MAIL)
        national = self.phones.new(range(10, 100))
        while True:  # letters then exactly two digits: no handle is a prefix of another
            stem = rng.pick((f"{f}{la}", f"{f}_{la}", f"{f[0]}{la}", f"{la}{f}"))
            handle = f"@{stem}{rng.between(10, 99)}"
            if handle not in self.handles:
                self.handles.add(handle)
                break
        while True:
            visitor = f"visitor-{self.hex_digits(12)}"
            if visitor not in self.visitors:
                self.visitors.add(visitor)
                break
        return Contact(
            index=index,
            first=first,
            last=last,
            f=f,
            la=la,
            email=f"{local}@{domain}",
            phone=format_phone(national, rng.between(0, 5)),
            national=national,
            handle=handle,
            visitor=visitor,
            company=company,
            owner=rng.between(0, self.n_users - 1),
            age=self._age(14, 730),
        )

    def _add_contact(self, plan: Plan, c: Contact) -> None:
        rng = self.rng
        birthday = None
        if rng.random() < 0.85:
            birthday = date.fromordinal(
                rng.between(date(1955, 1, 1).toordinal(), date(2004, 12, 31).toordinal())
            )
        profile = f"{c.f}-{c.la}-{self.hex_digits(6)}"
        custom = {
            "linkedin": f"https://www.linkedin.com/in/{profile}",
            "telegram": c.handle,
            "preferred_channel": rng.pick(CHANNELS),
            "lead_source": rng.pick(LEAD_SOURCES),
            "lead_score": rng.between(1, 100),
            "newsletter": rng.random() < 0.5,
        }
        plan.contacts.append(
            ContactRow(
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
        deal = records.add_deal(self, plan, c) if rng.random() < 0.5 else None
        records.add_notes(self, plan, c, deal)
        records.add_messages(self, plan, c)
        records.add_contract(self, plan, c)
