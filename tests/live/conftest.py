"""Shared pieces for live-layer tests: versioned fixtures, a started LiveServer, a time unit."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from livews.live import LiveServer

if TYPE_CHECKING:
    from .prompt import Prompt

FIXTURES = Path(__file__).resolve().parent / "fixtures"

#: The time unit for every bounded wait in these tests (scale it up on a slow machine).
T = float(os.environ.get("LIVEWS_TEST_TIMEOUT", "10"))


def fixture_source(version: str, name: str = "echo.py") -> Path:
    """The file ``name`` of fixture ``version`` (``v3_syntax_error`` stores it as ``echo.py.broken``)."""
    folder = FIXTURES / version
    for candidate in (folder / name, folder / (name + ".broken")):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(folder / name)


def install(version: str, handlers: Path, name: str = "echo.py") -> Path:
    """Put fixture ``version`` in place as ``handlers/name`` in one atomic rename (what editors do)."""
    target = handlers / name
    tmp = handlers / f".{name}.tmp"
    shutil.copyfile(fixture_source(version, name), tmp)
    os.replace(tmp, target)
    return target


@pytest.fixture
def handlers(tmp_path: Path) -> Path:
    folder = tmp_path / "handlers"
    folder.mkdir()
    install("v1", folder)
    return folder


@pytest.fixture
def live(handlers: Path) -> Iterator[LiveServer]:
    server = LiveServer(handlers, port=0, call_timeout=T, watch_livews=False)
    server.start(timeout=T)
    try:
        yield server
    finally:
        server.stop(timeout=T)


@pytest.fixture
def runtime(tmp_path: Path) -> Path:
    """A private ``XDG_RUNTIME_DIR``, so a test sees only the servers it starts (attach sockets)."""
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    return folder


@pytest.fixture
def prompt(workdir: Path) -> Iterator[Prompt]:
    """``python -m livews`` at its prompt in a real pty, in the test module's ``workdir``."""
    from .prompt import Prompt  # imported here: prompt.py takes its time unit from this module

    with Prompt(workdir) as p:
        yield p
