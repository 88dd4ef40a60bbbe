"""Cluster tests run against a real redis-server that each test starts and stops itself."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .redis_server import RedisServer

#: The time unit for every bounded wait in these tests (scale it up on a slow machine).
T = float(os.environ.get("LIVEWS_TEST_TIMEOUT", "10"))


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    folder = tmp_path / "redis"
    folder.mkdir()
    server = RedisServer(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()
