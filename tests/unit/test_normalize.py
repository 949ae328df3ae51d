"""The normalizer decodes and folds text, and maps every folded character back to the
original characters it came from: a replacement covers exactly them."""

from __future__ import annotations

import json
import unicodedata
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anonymizers.text.normalize import fold, normalize


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Zoë", "zoe"),
        (unicodedata.normalize("NFD", "Zoë"), "zoe"),
        ("ZOË", "zoe"),
        ("Zo&euml;", "zoe"),
        ("Zo&#235;", "zoe"),
        ("Zo&#xEB;", "zoe"),
        ("Zo%C3%AB", "zoe"),
        ("Zo\\u00eb", "zoe"),
        ("Straße", "strasse"),
        ("Łódź", "lodz"),
        ("Øster", "oster"),
        ("O\u2019Brien", "o'brien"),
        ("Šimić\u2013Novak", "simic-novak"),
        ("\uff3a\uff4f\uff45", "zoe"),  # fullwidth
        ("Zo\u00ade", "zoe"),  # a soft hyphen inside
        ("?q=zoe+simic", "?q=zoe simic"),  # "+" is a space in a query string
        ("zoe+simic@x.io", "zoe+simic@x.io"),  # and nowhere else
        ("%2B44", "+44"),
        ("bad %C3 and %ZZ", "bad %c3 and %zz"),  # no valid escape: as written
        ("&bogus; &amp;", "&bogus; &"),
        ("\\ud83d\\ude00", "\U0001f600"),  # a JSON surrogate pair
    ],
)
def test_folding(text: str, folded: str) -> None:
    assert fold(text) == folded


_ENCODE = st.sampled_from(
    [
        lambda t: t,
        lambda t: quote(t, safe=""),
        lambda t: quote_plus(t),
        lambda t: json.dumps(t)[1:-1],
        lambda t: "".join(f"&#{ord(c)};" if not c.isascii() else c for c in t),
        lambda t: unicodedata.normalize("NFD", t),
    ]
)
_WORDS = st.text(alphabet="abcZëŠćßø '-", min_size=1, max_size=8)
_PLAIN = st.text(alphabet="xyz ,.;", max_size=6)


@given(before=_PLAIN, word=_WORDS, after=_PLAIN, encode=_ENCODE)
def test_a_span_maps_back_to_exactly_its_original_characters(
    before: str, word: str, after: str, encode: object
) -> None:
    assert callable(encode)
    written = encode(word)
    text = f"{before}{written}{after}"
    n = normalize(text)
    start = len(fold(before))
    end = len(n.text) - len(fold(after))
    if start < end and fold(before + written) == n.text[:end]:
        assert n.span(start, end) == (len(before), len(before) + len(written))


@given(st.text(max_size=200))
def test_spans_are_ordered_and_inside_the_text(text: str) -> None:
    n = normalize(text)
    spans = [n.span(i, i + 1) for i in range(len(n.text))]
    assert all(0 <= s <= e <= len(text) for s, e in spans)
    assert [s for s, _ in spans] == sorted(s for s, _ in spans)
