"""What the Python side of an export writes: the same text the database writes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from anonymizers.records import file_path, record


@given(st.integers(1, 2**62), st.one_of(st.none(), st.text()))
def test_a_file_path_is_json_text_as_it_stands(file_id: int, name: str | None) -> None:
    # rendered_files writes the path between quotes without escaping it.
    path = file_path(file_id, name)
    assert json.loads(f'"{path}"') == path
    assert path.startswith(f"files/{file_id}-")
    assert "/" not in path[len("files/") :]


@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),  # in UTC, still a year datetime can hold
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
    )
)
def test_a_timestamp_is_iso_8601_in_utc_without_trailing_zeros(value: datetime) -> None:
    text = record("x", {"at": value})["at"]
    assert text.endswith("+00:00")
    assert datetime.fromisoformat(text) == value
    seconds = text[: -len("+00:00")].rpartition(":")[2]
    assert not seconds.endswith("0") or "." not in seconds  # ".12", never ".120000"


def test_timestamps_as_the_database_writes_them() -> None:
    at = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert record("x", {"at": at})["at"] == "2024-01-02T03:04:05+00:00"
    assert record("x", {"at": at.replace(microsecond=120000)})["at"] == (
        "2024-01-02T03:04:05.12+00:00"
    )
    assert record("x", {"at": at.replace(microsecond=1)})["at"] == (
        "2024-01-02T03:04:05.000001+00:00"
    )
