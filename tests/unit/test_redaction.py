"""Redaction removes a subject's identifiers from free text and changes nothing else."""

from __future__ import annotations

from hypothesis import assume, given
from hypothesis import strategies as st

from anonymizers.text.identity import Identifiers, Name
from anonymizers.text.matches import REDACTED, Kind
from anonymizers.text.normalize import fold
from anonymizers.text.phones import digits
from anonymizers.text.redaction import Redactor


def names(*written: str) -> tuple[Name, ...]:
    return tuple(n for w in written if (n := Name.parse(w)))


JANE = Redactor(
    Identifiers(
        names=names("Jane Doe"),
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
    out = JANE.redact("Jane Doe <jane.doe@example.com>", lambda m: f"<{m.kind.value}>")
    assert out == "<name> <<email>>"
    assert [m.kind for m in JANE.find("Jane Doe, 5550102030")] == [Kind.NAME, Kind.PHONE]


def test_everyone_takes_every_email_phone_and_handle() -> None:
    tenant = Redactor(Identifiers(names=names("Jane Doe", "John Roe")), everyone=True)
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
    folded = fold(text)
    assume("quinn" not in folded and "xu" not in folded and "zq" not in folded)
    assume("5550109999" not in digits(folded))
    other = Redactor(
        Identifiers(names=names("Zoë Quinn-Xu"), emails=("zq@example.org",), phones=("5550109999",))
    )
    assert other.redact(text) == text


# Found by the zero-residue property: in the subject's own file, "Ann" of "Abbott,
# Ann" (another Ann of the tenant, written family first) was taken for her given name.
_ANN_BAKER = Identifiers(
    names=(Name("Ann", "Baker"),),
    emails=("ann.baker@example.com",),
    namesakes=(("ann", "abbott"),),
)


def test_a_given_name_alone_is_not_the_end_of_someone_elses_family_first_name() -> None:
    r = Redactor(_ANN_BAKER)
    for text in ("* **Abbott, Ann**", "Abbott, Ann", "Novak, Ann", "Novak , Ann called"):
        assert r.redact(text, own=True) == text
    assert r.redact("Baker, Ann called", own=True) == f"{REDACTED} called"  # hers
    assert r.redact("Met Ann, then Abbott, Ann", own=True) == f"Met {REDACTED}, then Abbott, Ann"


def test_a_family_name_alone_is_not_the_start_of_someone_elses_family_first_name() -> None:
    r = Redactor(_ANN_BAKER)
    assert r.redact("Baker, Zoe", own=True) == "Baker, Zoe"
    assert r.redact("Dear Ms. Baker, Thanks", own=False) == f"Dear Ms. {REDACTED}, Thanks"


def test_an_email_is_not_the_start_of_a_longer_address() -> None:
    r = Redactor(Identifiers(emails=("jane.doe@example.com",)))
    for other in ("jane.doe@example.com.au", "jane.doe@example.co", "xjane.doe@example.com"):
        assert r.redact(f"write to {other} today") == f"write to {other} today"
    assert r.redact("write to jane.doe@example.com.") == f"write to {REDACTED}."


def test_a_vcards_structured_name_is_the_full_name_family_first() -> None:
    # "N:Doe;Jane;;;" beside "FN:Jane Doe": the given name stayed behind in other
    # people's contact files.
    r = Redactor(
        Identifiers(names=(Name("Jane", "Doe"),), namesakes=(("jane", "smith"),)),
    )
    card = "BEGIN:VCARD\r\nN:Doe;Jane;;;\r\nFN:Jane Doe\r\nEND:VCARD\r\n"
    assert r.redact(card) == f"BEGIN:VCARD\r\nN:{REDACTED};;;\r\nFN:{REDACTED}\r\nEND:VCARD\r\n"
    assert r.redact("N:Smith;Jane;;;") == "N:Smith;Jane;;;"  # the other Jane
