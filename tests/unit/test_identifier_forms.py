"""A subject is found however their identifiers are written, and look-alikes never are.

Each class of what outsiders' hand-made tenants held (names written another way,
encodings inside free text, phone numbers abroad) has its cases here, and a
property test writes the subject into generated text in every form and encoding,
beside look-alikes, and knows exactly which characters must change.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

from hypothesis import given, settings
from hypothesis import strategies as st

from anonymizers.text.identity import Identifiers, Name
from anonymizers.text.matches import REDACTED
from anonymizers.text.redaction import Redactor

R = REDACTED
ZOE = Identifiers(
    names=(Name.of("Zoë Anna", "Šimić-Novak"),),  # type: ignore[arg-type]
    emails=("zoe.simic@example.com",),
    phones=("+1 207 946 0958",),
    handles=("@zoe_s",),
    addresses=("12 Harbour Rd, Portland",),
)
OBRIEN = Identifiers(names=(Name.of("Seán", "O'Brien"),))  # type: ignore[arg-type]


def redact(ids: Identifiers, text: str, *, own: bool = False) -> str:
    return Redactor(ids).redact(text, own=own)


def test_names_in_another_order_and_with_fewer_parts() -> None:
    assert redact(ZOE, "Šimić-Novak, Zoë called") == f"{R} called"
    assert redact(ZOE, "Novak, Zoë Anna called") == f"{R} called"
    assert redact(ZOE, "with Zoë Šimić today") == f"with {R} today"  # no middle, no hyphen part
    assert redact(ZOE, "with Anna Novak today") == f"with {R} today"
    assert redact(ZOE, "Zoë Anna Šimić-Novak") == R


def test_a_title_with_the_family_name_and_the_family_name_alone() -> None:
    assert redact(ZOE, "Ms. Šimić-Novak wrote; Dr Novak agreed") == f"Ms. {R} wrote; Dr {R} agreed"
    assert redact(ZOE, "ask novak's team; Šimić will call") == f"ask novak's team; {R} will call"


def test_diacritics_precomposed_decomposed_or_dropped_and_any_case() -> None:
    for written in (
        "Zoë Šimić",
        unicodedata.normalize("NFD", "Zoë Šimić"),
        "Zoe Simic",
        "ZOË ŠIMIĆ",
    ):
        assert redact(ZOE, f"[{written}]") == f"[{R}]", written


def test_typographic_apostrophes_and_dashes_where_the_stored_name_has_ascii() -> None:
    for apostrophe in "'\u2019\u2018\u02bc":
        assert redact(OBRIEN, f"Sean O{apostrophe}Brien") == R
    for dash in "-\u2013\u2014":
        assert redact(ZOE, f"Zoe Simic{dash}Novak") == R


def test_names_in_urls() -> None:
    assert redact(ZOE, "/people/Zoe+Simic") == f"/people/{R}"
    assert redact(ZOE, "/people/Zo%C3%AB%20%C5%A0imi%C4%87/x") == "/people/%5Bredacted%5D/x"
    assert redact(ZOE, "/s?q=Zo%C3%AB+Novak&page=2") == "/s?q=%5Bredacted%5D&page=2"


def test_html_entities_percent_encoding_and_json_escapes() -> None:
    assert redact(ZOE, "<p>Zo&euml; &Scaron;imi&#263;</p>") == f"<p>{R}</p>"
    assert redact(OBRIEN, "Se&aacute;n O&#x27;Brien &amp; co") == f"{R} &amp; co"
    assert redact(ZOE, r'{"n": "Zo\u00eb \u0160imi\u0107"}') == f'{{"n": "{R}"}}'
    url = "mailto:zoe.simic@example.com?cc=zoe.simic%40example.com&x=zoe.simic%2Bcrm%40example.com"
    # In a URL that is percent-encoded, the replacement is too.
    assert redact(ZOE, url) == "mailto:%5Bredacted%5D?cc=%5Bredacted%5D&x=%5Bredacted%5D"


def test_a_whole_email_or_none_of_it() -> None:
    text = "Zoe.Simic@Example.COM, <zoe.simic@example.com>, zoe.simic@example.com."
    assert redact(ZOE, text) == f"{R}, <{R}>, {R}."
    assert redact(ZOE, "zoe dot simic at example dot com") == R


def test_phones_in_national_and_international_forms() -> None:
    for written in (
        "(207) 946-0958",
        "207.946.0958",
        "+1 207 946 0958",
        "1-207-946-0958",
        "+12079460958",
        "011 1 207 946 0958",
        "tel:+1-207-946-0958",
    ):
        assert redact(ZOE, f"call {written} now") in (f"call {R} now", f"call tel:{R} now"), written


def test_look_alikes_are_untouched() -> None:
    untouched = [
        "+44 20 7946 0958",  # the same ten digits in London
        "(207) 946-0959",  # a neighbouring number
        "zoe.simic@example.org",  # the same local part at another domain
        "zoe.simic@other.com",
        "zoe.simic.x@example.com",
        "Zoë Petrović",  # the same given name
        "Ivan Kovač",
        "Anna Lee",
        "Zoë",  # a given name alone, in someone else's row
        "Šimić-Horvat",  # a longer family name
        "Ivan Šimić",  # someone else with the family name
        "@zoe_s2",
        "15 Harbour Rd, Portland",
    ]
    for text in untouched:
        assert redact(ZOE, f"Ask {text} today") == f"Ask {text} today", text


def test_a_namesake_makes_the_forms_they_could_be_ambiguous() -> None:
    ids = Identifiers(
        names=(Name.of("Zoë", "Šimić"),),  # type: ignore[arg-type]
        namesakes=(("ivan", "simic"),),
    )
    # "Šimić" alone or with a title could be Ivan: left alone. Her full name is hers.
    assert redact(ids, "Mr Šimić and Šimić met Zoë Šimić") == f"Mr Šimić and Šimić met {R}"
    # Nor does her name go on into his.
    ids = Identifiers(
        names=(Name.of("Zoë", "Šimić"),),  # type: ignore[arg-type]
        namesakes=(("zoe", "simic", "horvat"),),
    )
    assert redact(ids, "Zoë Šimić Horvat came") == "Zoë Šimić Horvat came"


def test_a_given_name_alone_only_in_the_subjects_own_rows() -> None:
    text = "Dear Zoë, thanks. Zoë Petrović will call."
    assert redact(ZOE, text) == text
    assert redact(ZOE, text, own=True) == f"Dear {R}, thanks. Zoë Petrović will call."


def test_the_address_in_own_rows_and_where_no_one_else_has_it() -> None:
    text = "Ship to 12 Harbour Rd., Portland."
    assert redact(ZOE, text) == f"Ship to {R}."
    shared = Identifiers(addresses=ZOE.addresses, shared_addresses=ZOE.addresses)
    assert redact(shared, text) == text
    assert redact(shared, text, own=True) == f"Ship to {R}."


def test_identifiers_harvested_from_json() -> None:
    from anonymizers.text.identity import harvest_json

    found = harvest_json(
        {
            "telegram": "@zoe_s",
            "work": {"email": "Z.Simic@Work.example", "mobile": "+44 7700 900123"},
            "notes": ["call 555-0101 maybe", "tier gold"],
            "nickname": "zo",
            # Bare digits under a key that says nothing: any id, not a number.
            "order": "2079460958",
            "hotel": "1234567",
            "fax": "9460958",  # a phone-like key: a number
        }
    )
    assert found.emails == ["Z.Simic@Work.example"]
    assert found.phones == ["+44 7700 900123", "9460958"]
    assert found.handles == ["@zoe_s"]


# --- the property ---------------------------------------------------------------

GIVEN = ["Zoë", "Seán", "Ann", "Björn", "Łucja", "Chloé"]
FAMILY = ["Šimić", "O'Brien", "Nováková", "Müller-Lüdenscheidt", "Øster", "Dubois"]
# Filler never spells an identifier (no capitals, no digits), and holds a word, so
# two occurrences side by side do not read as one ("Ms. Šimić, Zoë Šimić").
_FILLER = st.tuples(
    st.sampled_from([" ", ", ", "; ", "\n"]),
    st.text(alphabet="qwxyz", min_size=1, max_size=6),
    st.sampled_from([" ", ", ", "! ", "\n"]),
).map(lambda t: f" {t[0]}{t[1]}{t[2]}")


def _html(text: str) -> str:
    return "".join(c if c.isascii() and c != "'" else f"&#{ord(c)};" for c in text)


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    out = "".join(c for c in decomposed if not unicodedata.combining(c))
    return out.replace("Ø", "O").replace("ø", "o").replace("Ł", "L").replace("ł", "l")


ENCODINGS: dict[str, Callable[[str], str]] = {
    "plain": lambda t: t,
    "upper": str.upper,
    "nfd": lambda t: unicodedata.normalize("NFD", t),
    "ascii": _ascii,
    "typographic": lambda t: t.replace("'", "\u2019").replace("-", "\u2013"),
    "html": _html,
    "percent": lambda t: quote(t, safe=""),
    "json": lambda t: json.dumps(t)[1:-1],
}


@dataclass(frozen=True)
class Segment:
    text: str
    expected: str


@st.composite
def written(draw: st.DrawFn, subject: Name, email: str) -> Segment:
    """One occurrence of the subject, in some form and encoding, and what it becomes."""
    given_part, family_part = subject.given, subject.family
    # (what stays, what is the subject): a title stays before the family name.
    kept, form = draw(
        st.sampled_from(
            [
                ("", f"{given_part} {family_part}"),
                ("", f"{family_part}, {given_part}"),
                ("Ms. ", family_part),
                ("", email),
                ("", email.upper()),
            ]
        )
    )
    encoding = draw(st.sampled_from(sorted(ENCODINGS)))
    if encoding == "percent":
        if draw(st.booleans()):
            # In a query string, "+" is a space.
            return Segment(
                f"/?q={quote_plus(kept + form)}&", f"/?q={quote_plus(kept)}{quote(R, safe='')}&"
            )
        path = quote(kept + form, safe="")
        # Where the URL holds no escape, the replacement is written as it is.
        replacement = quote(R, safe="") if "%" in path else R
        return Segment(f"/{path}/", f"/{quote(kept, safe='')}{replacement}/")
    encode = ENCODINGS[encoding]
    return Segment(encode(kept) + encode(form), encode(kept) + R)


@st.composite
def look_alike(draw: st.DrawFn, subject: Name, email: str) -> Segment:
    """Someone else who shares a part of the subject's identifiers: never touched."""
    other_given = draw(st.sampled_from([g for g in GIVEN if g != subject.given]))
    other_family = draw(st.sampled_from([f for f in FAMILY if f != subject.family]))
    local, _, _ = email.partition("@")
    text = draw(
        st.sampled_from(
            [
                f"{subject.given} {other_family}",
                f"{other_given} {subject.family}",
                f"{local}@elsewhere.example",
                "+44 20 7946 0958",
                "(207) 946-0957",
            ]
        )
    )
    return Segment(text, text)


@st.composite
def documents(draw: st.DrawFn) -> tuple[Identifiers, list[Segment]]:
    subject = Name(draw(st.sampled_from(GIVEN)), draw(st.sampled_from(FAMILY)))
    email = (
        f"{_ascii(subject.given).lower()}.{draw(st.sampled_from(['x', 'crm', 'home']))}@example.com"
    )
    segments: list[Segment] = []
    for _ in range(draw(st.integers(1, 6))):
        filler = draw(_FILLER)
        segments.append(Segment(filler, filler))
        kind = draw(st.sampled_from(["subject", "look-alike"]))
        maker = written if kind == "subject" else look_alike
        segments.append(draw(maker(subject, email)))
    filler = draw(_FILLER)
    segments.append(Segment(filler, filler))
    ids = Identifiers(names=(subject,), emails=(email,), phones=("(207) 946-0958",))
    return ids, segments


@settings(max_examples=300)
@given(documents())
def test_every_form_and_encoding_is_found_and_nothing_else_changes(
    case: tuple[Identifiers, list[Segment]],
) -> None:
    ids, segments = case
    text = "".join(s.text for s in segments)
    expected = "".join(s.expected for s in segments)
    assert Redactor(ids).redact(text) == expected
