"""History and undo: ``history()`` lists the recent reloads with when and what changed, ``rollback(file)``
puts the previously loaded version back live without touching the file, ``diff(file)`` shows what the last
reload changed. The prompt and notebooks get them as helpers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from websockets.sync.client import connect

from livews.live import LiveServer
from livews.live.repl import HELP, namespace

from .conftest import T, fixture_source, install
from .saves import roundtrip


def _reload_to_v2(live: LiveServer, handlers: Path) -> None:
    n = live.report_count
    install("v2", handlers)
    report = live.wait_report(n, T)
    assert report.ok and report.kind == "reload", str(report)


def test_rollback_puts_the_previous_version_back_live_and_leaves_the_file_as_it_is(
    live: LiveServer, handlers: Path
) -> None:
    with connect(live.url + "/echo", open_timeout=T) as ws:
        assert roundtrip(ws, "a") == "v1 a #1 h1"
        _reload_to_v2(live, handlers)
        assert roundtrip(ws, "b") == "v2 B #2 h2 from=Echo"
        report = live.rollback("echo.py")
        assert report.ok and report.kind == "rollback" and report.moved == 1, str(report)
        assert "rolled back handlers/echo.py" in str(report)
        assert "handlers/echo.py on disk still holds the newer text" in str(report)
        assert report.carried == ["history"]
        assert roundtrip(ws, "c") == "v1 c #3 h3"  # old code, same instance state, same kept history
        assert (handlers / "echo.py").read_bytes() == fixture_source("v2").read_bytes()
        assert live.rollback("handlers/echo.py").ok  # rolling back again returns to the newer version
        assert roundtrip(ws, "d").startswith("v2 D #4 h4")


def test_diff_shows_what_the_last_reload_changed(live: LiveServer, handlers: Path) -> None:
    assert "no earlier version" in live.diff("echo.py")
    _reload_to_v2(live, handlers)
    diff = live.diff("echo.py")
    assert '-        self.send_text(f"v1 {message} #{self.count} h{len(history)}")' in diff
    assert "+    def on_reload(self, old_cls):" in diff
    assert diff.splitlines()[0].startswith("--- handlers/echo.py (loaded ")
    assert repr(diff) == str(diff)  # the prompt shows it as a diff, not as a quoted string


def test_history_lists_the_recent_reloads_with_their_time(live: LiveServer, handlers: Path) -> None:
    _reload_to_v2(live, handlers)
    history = live.history()
    assert [r.kind for r in history] == ["load", "reload"]
    lines = repr(history).splitlines()
    assert len(lines) == 2 and all(re.match(r"\d\d:\d\d:\d\d  ", line) for line in lines)
    assert "reloaded handlers/echo.py; changed Echo" in lines[1]


def test_rollback_without_an_earlier_version_or_of_an_unknown_file_says_so(live: LiveServer) -> None:
    with pytest.raises(LookupError, match="no earlier version"):
        live.rollback("echo.py")
    with pytest.raises(LookupError, match="not a loaded handler file"):
        live.rollback("nope.py")


def test_the_prompt_has_history_rollback_and_diff(live: LiveServer) -> None:
    ns = namespace(live)
    assert ns["history"] == live.history and ns["rollback"] == live.rollback and ns["diff"] == live.diff
    assert "rollback(file)" in HELP and "diff(file)" in HELP and "history()" in HELP
