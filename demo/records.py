"""What a contact's records say: a deal, notes, a thread per channel, files.

Each text quotes the contact's own identifiers and no one else's (their owner's,
a colleague's on an email's cc line, the tenant's lines): see demo/identities.py.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from demo.corpus import (
    ANSWERS,
    ATTACHMENTS,
    CHANNELS,
    CHAT_IN,
    CHAT_OUT,
    DASH,
    DEAL_KINDS,
    EMAIL_SUBJECTS,
    EXTRA_CHANNELS,
    QUESTIONS,
    SMS_IN,
    SMS_OUT,
    STAGES,
    TOPICS,
    WEEKDAYS,
)
from demo.identities import Contact, Staff, e164, png
from demo.rows import DealRow, FileRow, MessageRow, NoteRow, Plan

if TYPE_CHECKING:
    from demo.planner import Planner


def add_deal(p: Planner, plan: Plan, c: Contact) -> int:
    rng = p.rng
    plan.deals.append(
        DealRow(
            contact=c.index,
            # The title names only the company: it is not the contact's data.
            title=f"{c.company} {DASH} {rng.pick(DEAL_KINDS)}",
            description=f"Champion: {c.full}. {p.some_filler(1, 2)}",
            amount=Decimal(rng.between(500_00, 50_000_00)) / 100,
            currency=rng.pick(("USD", "USD", "USD", "EUR", "GBP")),
            stage=rng.pick(STAGES),
            age=c.age * rng.random(),
        )
    )
    return len(plan.deals) - 1


def add_notes(p: Planner, plan: Plan, c: Contact, deal: int | None) -> None:
    rng = p.rng
    bodies = [
        f"Call with {c.full} ({c.email}): discussed {rng.pick(TOPICS)}. "
        f"{p.some_filler(0, 2)}".rstrip()
    ]
    if rng.random() < 0.5:
        bodies.append(
            f"Sent the follow-up to {c.email}. {c.full} prefers {rng.pick(CHANNELS)}; "
            f"best reached at {c.phone}."
        )
    for n, body in enumerate(bodies):
        plan.notes.append(
            NoteRow(
                contact=c.index,
                deal=deal if n == 1 else None,
                author=rng.pick((c.owner, rng.between(0, p.n_users - 1))),
                body=body,
                age=c.age * rng.random(),
            )
        )


def add_messages(p: Planner, plan: Plan, c: Contact) -> None:
    """One thread per channel; extra messages continue the threads."""
    rng = p.rng
    staff = p.staff[c.owner]
    # What the conversations quote; one meeting and one question per contact.
    words = {
        "first": c.first,
        "full": c.full,
        "email": c.email,
        "company": c.company,
        "tenant": p.tenant_company,
        "agent": staff.first,
        "day": rng.pick(WEEKDAYS),
        "hour": str(rng.between(1, 5)),
        "dash": DASH,
        "question": rng.pick(QUESTIONS),
        "answer": rng.pick(ANSWERS),
    }
    per_channel = dict.fromkeys(CHANNELS, 1)
    for _ in range(p.messages_per_contact - len(CHANNELS)):
        per_channel[rng.pick(EXTRA_CHANNELS)] += 1
    for channel, count in per_channel.items():
        # Oldest first; live chat and Telegram start with the contact writing.
        ages = sorted((c.age * rng.random() for _ in range(count)), reverse=True)
        inbound = channel in ("telegram", "livechat") or rng.random() < 0.5
        thread = f"{channel}-{p.hex_digits(12)}"
        subject = rng.pick(EMAIL_SUBJECTS).format(**words) if channel == "email" else ""
        for n, age in enumerate(ages):
            message = _message(
                p,
                channel,
                c,
                staff,
                words,
                inbound=inbound,
                thread=thread,
                thread_subject=subject,
                n=n,
                age=age,
            )
            plan.messages.append(message)
            if channel == "email" and rng.random() < 0.15:
                add_attachment(p, plan, c, len(plan.messages) - 1, age)
            inbound = not inbound


def _message(
    p: Planner,
    channel: str,
    c: Contact,
    staff: Staff,
    words: dict[str, str],
    *,
    inbound: bool,
    thread: str,
    thread_subject: str,
    n: int,
    age: timedelta,
) -> MessageRow:
    """Message n of a thread, between the contact and its owner."""
    rng = p.rng
    subject: str | None = None
    cc: tuple[str, ...] = ()
    if channel == "email":
        ours, theirs = staff.email, c.email
        subject = f"Re: {thread_subject}" if n else thread_subject
        if inbound:
            body = (
                f"Hi {staff.first},\n\n{p.some_filler(1, 3)}\n\n"
                f"Thanks,\n{c.full}\n{c.company}\n{c.phone}"
            )
        else:
            body = (
                f"Dear {c.full},\n\n{p.some_filler(1, 3)}\n\n"
                f"Best regards,\n{staff.full}\n{p.tenant_company}"
            )
            colleagues = p.colleagues[c.owner]
            if colleagues and rng.random() < 0.2:
                cc = (rng.pick(colleagues),)
    elif channel in ("sms", "whatsapp"):
        if channel == "sms":
            ours, theirs = p.sms_line, c.phone
        else:  # WhatsApp numbers are always international
            ours, theirs = p.whatsapp_line, e164(c.national)
        body = rng.pick(SMS_IN if inbound else SMS_OUT).format(**words)
    elif channel == "telegram":
        ours, theirs = p.bot, c.handle
        body = rng.pick(SMS_IN if inbound else SMS_OUT).format(**words)
    else:  # livechat: the visitor talks to an agent
        ours, theirs = staff.email, c.visitor
        body = rng.pick(CHAT_IN if inbound else CHAT_OUT).format(**words)
    sender, recipient = (theirs, ours) if inbound else (ours, theirs)
    return MessageRow(
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


def _file_name(c: Contact, what: str, ext: str) -> str:
    return f"{c.f.capitalize()}_{c.la.capitalize()}_{what}.{ext}"


def add_contract(p: Planner, plan: Plan, c: Contact) -> None:
    text = (
        f"SERVICE AGREEMENT\n\nBetween: {p.tenant_company}\nAnd: {c.company}\n\n"
        f"Signed by: {c.full} <{c.email}>\nPhone: {c.phone}\n\n"
        f"{p.some_filler(2, 4)}\n"
    )
    plan.files.append(
        FileRow(
            contact=c.index,
            message=None,
            name=_file_name(c, "contract", "pdf"),
            content_type="application/pdf",
            data=b"%PDF-1.4\n" + text.encode(),
            age=c.age * p.rng.random(),
        )
    )


def add_attachment(p: Planner, plan: Plan, c: Contact, message: int, age: timedelta) -> None:
    what, ext, content_type = p.rng.pick(ATTACHMENTS)
    if ext == "png":
        data = png(f"{c.full} <{c.email}>", (200, 200, 200))
    elif ext == "csv":
        data = f"name,email,phone\n{c.full},{c.email},{c.phone}\n".encode()
    else:
        text = f"{what.replace('_', ' ').title()}\n\nFrom: {c.full} <{c.email}>\n"
        data = (b"%PDF-1.4\n" if ext == "pdf" else b"") + text.encode()
    plan.files.append(
        FileRow(
            contact=c.index,
            message=message,
            name=_file_name(c, what, ext),
            content_type=content_type,
            data=data,
            age=age,
        )
    )
