"""CopyLines: the lines COPY sent, whole and unescaped, however the output was cut."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anonymizers.records import CopyLines

# JSON-like lines: no newline of their own, backslashes wherever (COPY doubles them).
_LINES = st.lists(
    st.text(st.characters(exclude_characters="\n", exclude_categories=["Cs"]), max_size=40),
    max_size=30,
)


@given(_LINES, st.lists(st.integers(0, 2000), max_size=20), st.integers(1, 300))
def test_cut_anywhere_gives_every_line_back_once(
    lines: list[str], cuts: list[int], block_bytes: int
) -> None:
    copied = "".join(line.replace("\\", "\\\\") + "\n" for line in lines).encode()
    points = sorted({c % (len(copied) + 1) for c in cuts} | {0, len(copied)})
    splitter = CopyLines(block_bytes)
    blocks = [splitter.feed(copied[a:b]) for a, b in itertools.pairwise(points)]
    blocks.append(splitter.end())
    out = b"".join(b for b in blocks if b)
    assert out == "".join(line + "\n" for line in lines).encode()
    assert all(b.endswith(b"\n") for b in blocks if b)


def test_output_that_ends_inside_a_row_is_an_error() -> None:
    splitter = CopyLines(1000)
    assert splitter.feed(b'{"a":1}\n{"b"') is None
    with pytest.raises(ValueError, match="inside a row"):
        splitter.end()
