"""Redaction removes a subject's identifiers from free text and changes nothing else."""

from __future__ import annotations

import re

from hypothesis import assume, given
from hypothesis import strategies as st

from anonymizers.redaction import REDACTED, Identifiers, Kind, Redactor, digits

JANE = Redactor(
    Identifiers(
        names=("Jane Doe",),
        emails=("jane.doe@example.com",),
        phones=("+1 (555) 010-2030",),
        handles=("@janedoe42", "visitor-9f2c"),
    )
)


def test_redacts_each_kind_of_identifier_in_place() -> None:
    text = (
        "Met jane doe today; mail Jane.Doe@Example.com or call 555.010.2030 "
        "or +15550102030. Telegram @JaneDoe42, chat visitor-9f2c. Deal size 20 seats."
    )
    assert JANE.redact(text) == (
        f"Met {REDACTED} today; mail {REDACTED} or call {REDACTED} "
        f"or {REDACTED}. Telegram {REDACTED}, chat {REDACTED}. Deal size 20 seats."
    )


def test_names_in_file_names_and_across_line_breaks() -> None:
    assert JANE.redact("Jane_Doe_contract.pdf") == f"{REDACTED}_contract.pdf"
    assert JANE.redact("Dear Jane\nDoe,") == f"Dear {REDACTED},"


def test_leaves_other_people_and_longer_tokens_alone() -> None:
    text = (
        "Jane Doerr, Janet Doe, jane.doe@example.community, 55501020301, "
        "@janedoe421 and (Jane) stay; so does the email jane.doe.x@example.com."
    )
    assert JANE.redact(text) == text


def test_a_name_inside_someone_elses_email_is_part_of_that_email() -> None:
    assert JANE.redact("write to jane.doe@other.org") == "write to jane.doe@other.org"


def test_replacements_can_depend_on_the_kind() -> None:
    out = JANE.redact("Jane Doe <jane.doe@example.com>", lambda kind, _: f"<{kind.value}>")
    assert out == "<name> <<email>>"
    assert [m.kind for m in JANE.find("Jane Doe, 5550102030")] == [Kind.NAME, Kind.PHONE]


def test_everyone_takes_every_email_phone_and_handle() -> None:
    tenant = Redactor(Identifiers(names=("Jane Doe", "John Roe")), everyone=True)
    text = "John Roe (j@x.io, +44 20 7946 0018, @jroe) met Jane Doe. Order 42."
    assert tenant.redact(text) == (
        f"{REDACTED} ({REDACTED}, {REDACTED}, {REDACTED}) met {REDACTED}. Order 42."
    )


def test_nothing_to_find() -> None:
    empty = Redactor(Identifiers())
    assert empty.is_empty()
    assert empty.redact("Jane Doe jane@x.io 5550102030") == "Jane Doe jane@x.io 5550102030"


def test_phone_digits_in_any_format() -> None:
    assert digits("+1 (555) 010-2030") == digits("15550102030") == "15550102030"


# No "j" and no "@": the surrounding text can never spell an identifier itself.
_WORDS = st.text(alphabet="abcdefghiklmnopqrstuvwxyz ,.;!?0123\n", max_size=60)


@given(before=_WORDS, after=_WORDS)
def test_only_the_identifier_changes(before: str, after: str) -> None:
    out = JANE.redact(f"{before} Jane Doe {after}")
    assert out == f"{before} {REDACTED} {after}"
    assert JANE.redact(out) == out  # redacting again changes nothing


@given(text=st.text(max_size=300))
def test_text_without_the_identifiers_is_unchanged(text: str) -> None:
    assume("quinn" not in text.lower() and "zq@" not in text.lower())
    assume("5550109999" not in digits(text))
    other = Redactor(
        Identifiers(names=("Zoë Quinn-Xu",), emails=("zq@example.org",), phones=("5550109999",))
    )
    assert other.redact(text) == text


# The scan as first written, word by word: the redactor's shortcuts (fewer tokens
# looked at, names found from one split) must find exactly what it finds.
_REFERENCE_TOKEN = re.compile(
    r"(?<![\w.+-])(?P<email>[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,})"
    r"|(?<![\w+])(?P<phone>\(?\+?\d(?:[\s().-]{0,3}\d){6,14})(?!\d)"
    r"|(?<![\w@-])(?P<handle>@?[\w][\w-]*)"
)
_REFERENCE_WORD = re.compile("[^\\W\\d_]+(?:['\u2019][^\\W\\d_]+)*")
_REFERENCE_GAP = re.compile(r"[\s_.-]{1,3}")


def _reference_find(ids: Identifiers, everyone: bool, text: str) -> list[tuple[int, int, Kind]]:
    def key(w: str) -> str:
        return w.lower().replace("\u2019", "'")

    emails = {e.strip().lower() for e in ids.emails if e.strip()}
    phones = {digits(p)[-10:] for p in ids.phones if len(digits(p)) >= 7}
    handles = {h.strip().lower() for h in ids.handles if h.strip()}
    names = {
        t for n in ids.names if 2 <= len(t := tuple(map(key, _REFERENCE_WORD.findall(n)))) <= 4
    }
    found: list[tuple[int, int, Kind]] = []
    opaque: list[tuple[int, int]] = []
    for m in _REFERENCE_TOKEN.finditer(text):
        value, group = m.group(), m.lastgroup
        if group in ("email", "phone"):
            opaque.append(m.span())
        if group == "email" and (everyone or value.lower() in emails):
            found.append((m.start(), m.end(), Kind.EMAIL))
        elif group == "phone":
            number = digits(value)
            if len(number) >= 7 and (everyone or number[-10:] in phones):
                found.append((m.start(), m.end(), Kind.PHONE))
        elif group == "handle" and (
            value.lower() in handles or (everyone and value.startswith("@"))
        ):
            found.append((m.start(), m.end(), Kind.HANDLE))
    words = [
        w for w in _REFERENCE_WORD.finditer(text) if not any(s <= w.start() < e for s, e in opaque)
    ]
    keys = [key(w.group()) for w in words]
    i = 0
    while i < len(words):
        for n in range(min(4, len(words) - i), 1, -1):
            if tuple(keys[i : i + n]) in names and all(
                _REFERENCE_GAP.fullmatch(text, words[j].end(), words[j + 1].start())
                for j in range(i, i + n - 1)
            ):
                found.append((words[i].start(), words[i + n - 1].end(), Kind.NAME))
                i += n
                break
        else:
            i += 1
    found.sort(key=lambda f: (f[0], -f[1]))
    result: list[tuple[int, int, Kind]] = []
    for f in found:
        if not result or f[0] >= result[-1][1]:
            result.append(f)
    return result


_PIECES = st.sampled_from(
    [
        "Jane",
        "Doe",
        "jane",
        "DOE",
        "O'Brien",
        "O\u2019brien",
        "Zo\u00eb",
        "Ann",
        "Lee",
        "visitor-9f2c",
        "visitor-9F2C-x",
        "@janedoe42",
        "@x",
        "jane.doe@example.com",
        "a-jane.doe@example.com",
        "x@y.io",
        "555-010-2030",
        "+1 (555) 010-2030",
        "ab-5550102030",
        "-5550102030",
        "12-34",
        "42",
        "\u2013",
        " ",
        "  ",
        "\n",
        "_",
        ".",
        "-",
        "'",
        "@",
        "(",
        ")",
        "+",
        ",",
        "x",
    ]
)


@given(
    st.lists(_PIECES, max_size=30).map("".join),
    st.booleans(),
)
def test_the_shortcuts_find_what_the_plain_scan_finds(text: str, everyone: bool) -> None:
    ids = Identifiers(
        names=("Jane Doe", "Ann O'Brien Lee", "Zo\u00eb Doe"),
        emails=("jane.doe@example.com",),
        phones=("+1 (555) 010-2030",),
        handles=("@janedoe42", "visitor-9f2c"),
    )
    got = [(m.start, m.end, m.kind) for m in Redactor(ids, everyone=everyone).find(text)]
    assert got == _reference_find(ids, everyone, text)
