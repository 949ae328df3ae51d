from __future__ import annotations

import pytest

from anonymizers.builtin.messages import MessagesAnonymizer
from anonymizers.registry import DuplicateDataType, Registry, default_registry


def test_built_ins_run_dependents_first() -> None:
    # Files reference messages and contacts; messages and events reference contacts and
    # users; contacts reference users.
    assert default_registry().names() == ["files", "messages", "activity", "contacts", "accounts"]


def test_duplicate_data_type_is_refused() -> None:
    registry = Registry([MessagesAnonymizer()])
    with pytest.raises(DuplicateDataType, match="'messages' is already registered"):
        registry.register(MessagesAnonymizer())
    assert registry.names() == ["messages"]
