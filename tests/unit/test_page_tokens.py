"""Page tokens: what `make` writes, `read` gives back, for its own listing only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server import pagetokens
from server.errors import InvalidArgument

KEY = pagetokens.signing_key(b"k" * 32)
LISTING = ("acme", "", "erase")


@given(
    created=st.datetimes(timezones=st.just(UTC)),
    job_id=st.uuids(),
)
def test_a_token_reads_back_as_its_cursor(created: datetime, job_id: uuid.UUID) -> None:
    cursor = pagetokens.Cursor(created, job_id)
    assert pagetokens.read(KEY, LISTING, pagetokens.make(KEY, LISTING, cursor)) == cursor


@pytest.mark.parametrize(
    ("key", "listing"),
    [
        (pagetokens.signing_key(b"x" * 32), LISTING),  # another tenant's key
        (KEY, ("acme", "pending", "erase")),
        (KEY, ("acme", "", "")),
        (KEY, ("acme2", "", "erase")),
        (KEY, ("acm", "e", "erase")),
    ],
)
def test_a_token_is_only_read_on_its_own_listing(key: bytes, listing: tuple[str, ...]) -> None:
    token = pagetokens.make(KEY, LISTING, pagetokens.Cursor(datetime.now(UTC), uuid.uuid4()))
    with pytest.raises(InvalidArgument) as refused:
        pagetokens.read(key, listing, token)
    assert refused.value.field == "page_token"


@given(
    created=st.datetimes(timezones=st.just(UTC)),
    identifier_hash=st.binary(min_size=32, max_size=32),
)
def test_a_suppressions_token_reads_back_as_its_cursor(
    created: datetime, identifier_hash: bytes
) -> None:
    cursor = pagetokens.EntryCursor(created, identifier_hash)
    listing = ("ListSuppressions", "acme")
    assert (
        pagetokens.read_entry(KEY, listing, pagetokens.make_entry(KEY, listing, cursor)) == cursor
    )


def test_a_jobs_token_is_no_suppressions_token_nor_the_reverse() -> None:
    now = datetime.now(UTC)
    jobs = pagetokens.make(KEY, LISTING, pagetokens.Cursor(now, uuid.uuid4()))
    entries = pagetokens.make_entry(KEY, LISTING, pagetokens.EntryCursor(now, b"h" * 32))
    with pytest.raises(InvalidArgument, match="ListSuppressions"):
        pagetokens.read_entry(KEY, LISTING, jobs)
    with pytest.raises(InvalidArgument, match="ListJobs"):
        pagetokens.read(KEY, LISTING, entries)
