from __future__ import annotations

from server.queries import Q


def test_named_queries_load() -> None:
    assert "lease_next_job" in Q
    assert "SKIP LOCKED" in Q["lease_next_job"]
    assert all(body.strip() for body in Q.values())
