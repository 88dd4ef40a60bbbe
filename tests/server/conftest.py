"""Every async server test runs four times: on asyncio's own event loop and on uvloop, each with the loop's
own transports and with aiofastnet's.

uvloop is the loop uvicorn picks and many applications install; its transports do not derive from asyncio's
classes and it decides differently which protocols read with ``get_buffer``, so the server is tested on both.
aiofastnet's transports (``livews.server.transports``) replace either loop's own; ``Server`` picks them by
default on asyncio's loop, so they are tested on both loops too, and the loop's own on both as well: for
each test, ``Server``'s default ``transports`` is set to one of them (a test that names its own keeps those).
"""

from __future__ import annotations

import asyncio
import inspect
import sys
from collections.abc import Callable, Mapping

import pytest

from livews import Server

#: The loops every async test in this folder runs on, by the id pytest shows (``test_x[uvloop-...]``).
LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {"asyncio": asyncio.new_event_loop}
if sys.platform != "win32":  # uvloop does not exist on Windows; elsewhere it is in the test extra
    import uvloop

    LOOPS["uvloop"] = uvloop.new_event_loop

#: The transports every async test in this folder runs on (``test_x[...-aiofastnet]``); both are in the
#: test extra.
TRANSPORTS = ("loop", "aiofastnet")


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    return LOOPS


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if inspect.iscoroutinefunction(metafunc.function):
        metafunc.parametrize("_transports", TRANSPORTS, indirect=True)


@pytest.fixture(autouse=True)
def _transports(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str | None:
    """The transports of every ``Server`` made without naming its own, in an async test."""
    name: str | None = getattr(request, "param", None)
    if name is not None:
        defaults = Server.__init__.__kwdefaults__
        assert defaults is not None and defaults["transports"] == "loop"
        monkeypatch.setitem(defaults, "transports", name)
    return name
