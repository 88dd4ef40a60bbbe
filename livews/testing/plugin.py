"""The livews pytest plugin: ``livews_server`` and ``livews_live_edit`` fixtures with no import.

Registered through the ``pytest11`` entry point of the ``livews`` distribution. The fixtures are async (they
start servers in the test's event loop) and so need ``pytest-asyncio``, which ``livews[testing]`` installs;
without it the plugin still loads, and a test that asks for one of its fixtures fails saying what to install,
so livews never breaks a test suite that does not use it. Loading the plugin imports neither the server
nor the live layer: a fixture imports them when a test first asks for it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .servers import LiveEdit

__all__ = ["livews_live_edit", "livews_server"]

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - exercised only where pytest-asyncio is absent
    pytest_asyncio = None  # type: ignore[assignment]

_MISSING = "the livews fixtures need pytest-asyncio: pip install 'livews[testing]'"

ServerFactory = Callable[..., Awaitable[Any]]
LiveEditFactory = Callable[..., Awaitable["LiveEdit"]]


if pytest_asyncio is not None:

    @pytest_asyncio.fixture
    async def livews_server() -> AsyncIterator[ServerFactory]:
        """``await livews_server(*targets, path=None, **options)``: a started server, closed after the test.

        ``targets`` are handler classes (marked with ``@resource``, or one class with ``path=``),
        ``Resource`` objects, or one handlers folder; the server listens on 127.0.0.1, port 0 unless given.
        """
        from .servers import start_server

        started: list[Any] = []

        async def factory(*targets: Any, path: str | None = None, **server_options: Any) -> Any:
            server = await start_server(*targets, path=path, **server_options)
            started.append(server)
            return server

        try:
            yield factory
        finally:
            for server in reversed(started):
                await server.close(timeout=2)

    @pytest_asyncio.fixture
    async def livews_live_edit(tmp_path: Path) -> AsyncIterator[LiveEditFactory]:
        """``await livews_live_edit({"echo.py": source}, **server_options)``: a live handlers folder.

        The files are written to a fresh folder under ``tmp_path`` and served; ``await edit.save(name,
        source)`` then returns the ``ReloadReport`` of that save.
        """
        from .servers import start_live

        edits: list[LiveEdit] = []

        async def factory(files: dict[str, str] | None = None, **server_options: Any) -> LiveEdit:
            folder = tmp_path / f"handlers{len(edits) or ''}"
            folder.mkdir()
            for name, source in (files or {}).items():
                (folder / name).write_text(source, encoding="utf-8")
            edit = await start_live(folder, **server_options)
            edits.append(edit)
            return edit

        try:
            yield factory
        finally:
            for edit in reversed(edits):
                await edit.server.close(timeout=2)

else:  # pragma: no cover

    @pytest.fixture
    def livews_server() -> Iterator[None]:
        pytest.fail(_MISSING)
        yield

    @pytest.fixture
    def livews_live_edit() -> Iterator[None]:
        pytest.fail(_MISSING)
        yield
