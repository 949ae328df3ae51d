"""Reading the authorization header: any text gets a token or a precise refusal."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.auth import bearer_token
from server.errors import Unauthenticated


@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_any_header_value_gives_a_token_or_unauthenticated(value: str | bytes) -> None:
    token: str | None = None
    refusal = ""
    try:
        token = bearer_token([("authorization", value)])
    except Unauthenticated as refused:
        refusal = refused.message
    if token is None:
        assert '"Bearer <token>"' in refusal
    else:
        assert token
        assert token == token.strip()


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ([("authorization", "Bearer abc")], "abc"),
        ([("Authorization", "bearer  abc ")], "abc"),
        ([("x-other", "1"), ("authorization", b"Bearer abc")], "abc"),
    ],
)
def test_bearer_tokens_are_read(metadata: list[tuple[str, str | bytes]], expected: str) -> None:
    assert bearer_token(metadata) == expected


@pytest.mark.parametrize("metadata", [None, [], [("x-other", "Bearer abc")]])
def test_no_header_says_how_to_send_one(metadata: list[tuple[str, str]] | None) -> None:
    with pytest.raises(Unauthenticated, match="no credentials"):
        bearer_token(metadata)


@pytest.mark.parametrize(
    "metadata",
    [
        [("authorization", "Bearer abc"), ("authorization", "Bearer def")],
        [("authorization", "Bearer abc"), ("Authorization", "Bearer abc")],
        [("authorization", "Basic x"), ("x-other", "1"), ("authorization", b"Bearer abc")],
    ],
)
def test_more_than_one_header_is_refused(metadata: list[tuple[str, str | bytes]]) -> None:
    with pytest.raises(Unauthenticated, match="more than one authorization header"):
        bearer_token(metadata)
