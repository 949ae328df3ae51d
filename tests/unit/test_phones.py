"""Phone numbers are one person's only when phonenumbers reads the same E.164 number."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anonymizers.text import phones
from anonymizers.text.phones import Phone, find, parse, stored_forms

MAINE, LONDON = "+12079460958", "+442079460958"


@pytest.mark.parametrize(
    ("written", "region", "e164"),
    [
        ("+1 207 946 0958", "US", MAINE),
        ("(207) 946-0958", "US", MAINE),
        ("1-207-946-0958", "US", MAINE),
        ("011 1 207 946 0958", "US", MAINE),
        ("+44 20 7946 0958", "US", LONDON),
        ("+44 (0)20 7946 0958", "US", LONDON),
        ("0044 20 7946 0958", "US", LONDON),  # an international prefix without "+"
        ("442079460958", "US", LONDON),  # wa.me/442079460958
        ("020 7946 0958", "GB", LONDON),  # national, in a GB tenant
        ("(207) 946-0958", "GB", LONDON),  # the same digits mean London there
    ],
)
def test_a_number_is_read_in_the_tenants_region(written: str, region: str, e164: str) -> None:
    found = parse(written, region)
    assert found is not None
    assert found.e164 == e164


@pytest.mark.parametrize("written", ["12", "123 4567 8901 2345 6789", "not a number", ""])
def test_what_is_no_number_is_none(written: str) -> None:
    assert parse(written, "US") is None


def test_a_number_abroad_that_shares_ten_digits_is_not_found_as_hers() -> None:
    text = "call +44 20 7946 0958, or +44 (0)20 7946 0958, not (207) 946-0958"
    found = [(text[s:e], p.e164) for s, e, p in find(text, "US", {MAINE})]
    assert found == [
        ("+44 20 7946 0958", LONDON),
        ("+44 (0)20 7946 0958", LONDON),
        ("(207) 946-0958", MAINE),
    ]


def test_two_numbers_written_as_one_run_are_read_apart() -> None:
    text = "tel 207 946 0958 / 207 946 0959, ref 12 345 555 010 2030"
    found = [(text[s:e], p.e164) for s, e, p in find(text, "US", {"+15550102030"})]
    assert ("207 946 0958", MAINE) in found
    assert ("207 946 0959", "+12079460959") in found
    assert ("555 010 2030", "+15550102030") in found


@given(st.sampled_from([MAINE, LONDON, "+4930123456", "+33142685300", "+5511987654321"]))
def test_every_stored_form_reads_back_as_the_number(e164: str) -> None:
    phone = parse(e164, "US")
    assert phone is not None
    forms = stored_forms(phone, "US")
    assert phones.digits(e164) in forms
    assert phone.national in forms
    for form in forms:
        read = parse(form, "US")
        # A form the region reads as another number is only a candidate: the lookup
        # reads each before it counts (subjects._contacts_by_phone).
        if read is not None and read.e164 == e164:
            assert isinstance(read, Phone)
