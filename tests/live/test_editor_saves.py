"""Any editor's save loads the file as saved: in place (even in two writes), atomic rename, backup-then-write,
bursts. A save in progress is never acted on: no path stops being served, no ``keep`` state is reset."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from livews.live import LiveServer

from .conftest import T
from .saves import ask, reports_until, write_atomically, write_in_place, write_with_backup

SOURCE = """\
from livews import Handler, resource
from livews.live import keep

count = keep("count", [0])
VERSION = {version}


@resource("/c")
class Counter(Handler):
    def on_text(self, message):
        count[0] += 1
        self.send_text(f"v{{VERSION}} {{count[0]}}")
"""

#: Between the two writes of a save: longer than the watcher's quiet step (30 ms), shorter than ``SETTLE``.
PAUSE = 0.1
SETTLE = 0.3

#: Split points: before the class (the first write compiles but declares nothing) and inside a line.
BEFORE_CLASS = SOURCE.index("@resource")
MID_LINE = SOURCE.index("count[0] += 1") + 5


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    handlers = tmp_path / "handlers"
    handlers.mkdir()
    (handlers / "counter.py").write_text(SOURCE.format(version=0))
    server = LiveServer(handlers, port=0, call_timeout=T, watch_livews=False, settle=SETTLE)
    server.start(timeout=T)
    try:
        yield server
    finally:
        server.stop(timeout=T)


def _check_save(live: LiveServer, version: int, asked: int, first: int) -> None:
    reports = reports_until(live, first, "reloaded handlers/counter.py")
    assert all(r.ok and not r.removed and r.kind == "reload" for r in reports), reports
    assert reports[-1].carried == ["count"], str(reports[-1])
    assert ask(live, "/c") == f"v{version} {asked}"


@pytest.mark.parametrize("split", [BEFORE_CLASS, MID_LINE], ids=["before-class", "mid-line"])
def test_a_save_in_place_written_in_two_parts_loads_only_the_whole_file(live: LiveServer, split: int) -> None:
    handler = live.handlers_dir / "counter.py"  # type: ignore[operator]
    assert ask(live, "/c") == "v0 1"
    for version in range(1, 4):
        first = live.report_count
        write_in_place(handler, SOURCE.format(version=version), split=split, pause=PAUSE)
        _check_save(live, version, version + 1, first)
    assert all(r.ok and not r.removed for r in live.reports)


def test_an_atomic_rename_save_reloads_with_state(live: LiveServer) -> None:
    handler = live.handlers_dir / "counter.py"  # type: ignore[operator]
    assert ask(live, "/c") == "v0 1"
    first = live.report_count
    write_atomically(handler, SOURCE.format(version=1))
    _check_save(live, 1, 2, first)


def test_a_backup_then_write_save_keeps_the_path_served_and_the_state(live: LiveServer) -> None:
    handler = live.handlers_dir / "counter.py"  # type: ignore[operator]
    assert ask(live, "/c") == "v0 1"
    first = live.report_count
    write_with_backup(handler, SOURCE.format(version=1), pause=PAUSE)
    _check_save(live, 1, 2, first)


def test_a_burst_of_saves_a_few_ms_apart_ends_on_the_last_one(live: LiveServer) -> None:
    handler = live.handlers_dir / "counter.py"  # type: ignore[operator]
    assert ask(live, "/c") == "v0 1"
    first = live.report_count
    for version in range(1, 8):
        write_in_place(handler, SOURCE.format(version=version), split=MID_LINE, pause=0.002)
        time.sleep(0.003)
    deadline = time.monotonic() + T
    while time.monotonic() < deadline:
        reports = live.reports[first - live.report_count :] if live.report_count > first else []
        if reports and "v7" in ask(live, "/c", "peek"):
            break
        time.sleep(0.05)
    reports = live.reports[first - live.report_count :]
    assert reports and all(r.ok and not r.removed for r in reports), reports
    answer = ask(live, "/c")
    assert answer.startswith("v7 "), answer
    assert int(answer.split()[1]) > 2  # the count went on through every version
