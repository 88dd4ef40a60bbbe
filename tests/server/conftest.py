"""Every async server test runs twice: on asyncio's own event loop and on uvloop.

uvloop is the loop uvicorn picks and many applications install; its transports do not derive from asyncio's
classes and it decides differently which protocols read with ``get_buffer``, so the server is tested on both.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Mapping

import pytest

#: The loops every async test in this folder runs on, by the id pytest shows (``test_x[uvloop]``).
LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {"asyncio": asyncio.new_event_loop}
if sys.platform != "win32":  # uvloop does not exist on Windows; elsewhere it is in the test extra
    import uvloop

    LOOPS["uvloop"] = uvloop.new_event_loop


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    return LOOPS
