"""Redaction removes a subject's identifiers from free text and changes nothing else."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from anonymizers.redaction import REDACTED, Identifiers, compile_identifiers, digits, redact

JANE = Identifiers(
    names=("Jane Doe",), emails=("jane.doe@example.com",), phones=("+1 (555) 010-2030",)
)


def test_redacts_each_kind_of_identifier_in_place() -> None:
    text = (
        "Met jane doe today; mail Jane.Doe@Example.com or call 555.010.2030 "
        "or +15550102030. Deal size 20 seats."
    )
    out = redact(text, compile_identifiers(JANE))
    assert out == (
        f"Met {REDACTED} today; mail {REDACTED} or call {REDACTED} "
        f"or {REDACTED}. Deal size 20 seats."
    )


def test_leaves_other_people_and_longer_words_alone() -> None:
    pattern = compile_identifiers(JANE)
    text = "Jane Doerr and jane.doe@example.community and 55501020301 stay."
    assert redact(text, pattern) == text


def test_no_identifiers_no_pattern() -> None:
    assert compile_identifiers(Identifiers()) is None
    assert redact("anything", None) == "anything"


def test_phone_digits_in_any_format() -> None:
    assert digits("+1 (555) 010-2030") == digits("15550102030") == "15550102030"


# No "j": the surrounding text can never spell the identifier itself.
_WORDS = st.text(alphabet="abcdefghiklmnopqrstuvwxyz ,.;!?0123", max_size=60)


@given(before=_WORDS, after=_WORDS)
def test_only_the_identifier_changes(before: str, after: str) -> None:
    pattern = compile_identifiers(JANE)
    out = redact(f"{before} Jane Doe {after}", pattern)
    assert out == f"{before} {REDACTED} {after}"
    assert redact(out, pattern) == out  # redacting again changes nothing


@given(text=st.text(alphabet="abcdefghijklmnopqrstuvwxyz ,.;!?", max_size=200))
def test_text_without_identifiers_is_unchanged(text: str) -> None:
    ids = Identifiers(names=("Zoë Quinn-Xu",), emails=("zq@example.org",), phones=("5550102030",))
    assert redact(text, compile_identifiers(ids)) == text
