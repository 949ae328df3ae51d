"""The served process runs on uvloop unless PRIVACY_EVENT_LOOP says asyncio."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from server.commands import _loop_factory
from server.config import ConfigError, Settings


def test_uvloop_by_default_and_asyncio_on_request() -> None:
    factory = _loop_factory(Settings.from_env({}))
    assert factory is uvloop.new_event_loop
    loop = factory()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()
    assert _loop_factory(Settings.from_env({"PRIVACY_EVENT_LOOP": "asyncio"})) is None
    with asyncio.Runner(
        loop_factory=_loop_factory(Settings.from_env({"PRIVACY_EVENT_LOOP": "uvloop"}))
    ) as r:
        assert r.run(asyncio.sleep(0, result=7)) == 7


def test_anything_else_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="PRIVACY_EVENT_LOOP"):
        _loop_factory(Settings.from_env({"PRIVACY_EVENT_LOOP": "trio"}))
