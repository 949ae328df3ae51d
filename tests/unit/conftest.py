"""The unit tier uses no database: `make test-unit` runs it alone, in seconds."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def server_url() -> str:
    pytest.fail("a unit test asked for a database: it belongs in tests/integration")
