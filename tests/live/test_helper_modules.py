"""Helper modules in ``handlers/`` (imported relatively: ``from .words import greeting``) reload together with
every handler file that imports them, in dependency order, as one change; a failure anywhere keeps all of
them on their previous versions. Files in subfolders are reported as not loaded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import connect

from livews.live import LiveServer

from .conftest import T
from .saves import ask, reports_until, roundtrip, write_atomically

WORDS = """\
GREETING = "{greeting}"


def shout(text):
    return text.upper() + "{mark}"
"""

# Two import styles, two levels: _base imports _words, greet imports both.
BASE = """\
from livews import Handler

from ._words import shout


class Base(Handler):
    def loud(self, text):
        return shout(text)
"""

GREET = """\
from livews import resource

from . import _words
from ._base import Base


@resource("/greet")
class Greet(Base):
    def on_text(self, message):
        self.send_text(f"{_words.GREETING} {self.loud(message)}")
"""


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    handlers = tmp_path / "handlers"
    handlers.mkdir()
    (handlers / "_words.py").write_text(WORDS.format(greeting="hello", mark="!"))
    (handlers / "_base.py").write_text(BASE)
    (handlers / "greet.py").write_text(GREET)
    sub = handlers / "rooms"
    sub.mkdir()
    (sub / "lobby.py").write_text(
        "from livews import Handler, resource\n\n\n@resource('/lobby')\nclass L(Handler):\n    pass\n"
    )
    server = LiveServer(handlers, port=0, call_timeout=T, watch_livews=False)
    server.start(timeout=T)
    try:
        yield server
    finally:
        server.stop(timeout=T)


def test_handler_files_import_helpers_beside_them_relatively(live: LiveServer) -> None:
    assert ask(live, "/greet", "hi") == "hello HI!"


def test_editing_a_helper_reloads_it_and_every_file_importing_it_with_live_connections(
    live: LiveServer,
) -> None:
    words = live.handlers_dir / "_words.py"  # type: ignore[operator]
    with connect(live.url + "/greet", open_timeout=T) as ws:
        assert roundtrip(ws, "a") == "hello A!"
        first = live.report_count
        write_atomically(words, WORDS.format(greeting="bonjour", mark="?"))
        reports = reports_until(live, first, "reloaded handlers/greet.py")
        assert [r.source for r in reports] == ["handlers/_words.py", "handlers/_base.py", "handlers/greet.py"]
        assert all(r.ok for r in reports), reports
        assert reports[0].names == ["~GREETING", "~shout"], str(reports[0])
        assert reports[2].moved == 1, str(reports[2])
        assert roundtrip(ws, "b") == "bonjour B?"  # the live connection sees the new helper
        assert ask(live, "/greet", "c") == "bonjour C?"


def test_a_helper_that_breaks_an_importer_keeps_every_file_on_its_previous_version(live: LiveServer) -> None:
    words = live.handlers_dir / "_words.py"  # type: ignore[operator]
    with connect(live.url + "/greet", open_timeout=T) as ws:
        first = live.report_count
        # The helper itself loads, but _base.py can no longer import ``shout`` from it.
        write_atomically(words, 'GREETING = "bye"\n')
        [report] = reports_until(live, first, "failed")
        assert not report.ok and "handlers/_base.py" in str(report) and "ImportError" in str(report), str(
            report
        )
        assert "still running the previous version" in str(report)
        assert "handlers/_words.py" in report.also and "handlers/greet.py" in report.also, str(report)
        assert roundtrip(ws, "a") == "hello A!"  # helper, base and handler: all the old versions
        assert ask(live, "/greet", "b") == "hello B!"
        first = live.report_count
        write_atomically(words, WORDS.format(greeting="hey", mark="."))
        reports_until(live, first, "reloaded handlers/greet.py")
        assert roundtrip(ws, "c") == "hey C."


def test_a_broken_helper_keeps_its_importers_on_the_old_code(live: LiveServer) -> None:
    words = live.handlers_dir / "_words.py"  # type: ignore[operator]
    first = live.report_count
    write_atomically(words, "GREETING = (\n")
    [report] = reports_until(live, first, "failed")
    assert "SyntaxError" in str(report) and report.source == "handlers/_words.py", str(report)
    assert ask(live, "/greet", "a") == "hello A!"


def test_files_in_subfolders_are_reported_as_not_loaded_at_start_and_on_change(live: LiveServer) -> None:
    [note] = [r for r in live.reports if r.kind == "note"]
    assert note.source == "handlers/rooms/lobby.py" and "not loaded" in str(note), str(note)
    assert "/lobby" not in [e.path for e in live.resources()]
    first = live.report_count
    (live.handlers_dir / "rooms" / "lobby.py").write_text("X = 2\n")  # type: ignore[operator]
    [note] = reports_until(live, first, "not loaded")
    assert note.source == "handlers/rooms/lobby.py" and "subfolders" in str(note)
