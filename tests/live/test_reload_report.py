"""The report tells what changed: classes (renames too), module-level names, resource options (and that live
connections keep theirs), and attributes the new code sets in ``__init``/``on_open`` that live instances
lack. A moved instance's ``self.resource`` is the resource served now."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from livews.live import LiveServer, ReloadReport

from .conftest import T
from .saves import reports_until, roundtrip, write_atomically

SOURCE = """\
from livews import Handler, resource

VERSION = {version}
LIMIT = {limit}


@resource("/r", max_message_size=LIMIT)
class {cls}(Handler):
    def on_open(self):
        self.count = 0{extra}

    def on_text(self, message):
        self.count += 1
        same = self.resource.handler is type(self)
        limit = self.resource.max_message_size
        self.send_text(f"{{type(self).__name__}} v{{VERSION}} limit={{limit}} {{same}}")
"""


def _source(version: int = 1, limit: int = 1000, cls: str = "Echo", extra: str = "") -> str:
    return SOURCE.format(version=version, limit=limit, cls=cls, extra=extra)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    handlers = tmp_path / "handlers"
    handlers.mkdir()
    (handlers / "r.py").write_text(_source())
    server = LiveServer(handlers, port=0, call_timeout=T, watch_livews=False)
    server.start(timeout=T)
    try:
        yield server
    finally:
        server.stop(timeout=T)


def _save(live: LiveServer, text: str) -> ReloadReport:
    first = live.report_count
    write_atomically(live.handlers_dir / "r.py", text)  # type: ignore[operator]
    [report] = reports_until(live, first, "reloaded handlers/r.py")
    assert report.ok, str(report)
    return report


def test_a_changed_module_level_name_is_reported(live: LiveServer) -> None:
    with connect(live.url + "/r", open_timeout=T) as ws:
        report = _save(live, _source(version=2))
        assert roundtrip(ws) == "Echo v2 limit=1000 True"
    assert report.names == ["~VERSION"] and "names ~VERSION" in str(report), str(report)
    assert not report.changed and not report.options


def test_a_renamed_class_on_the_same_path_is_reported_and_its_instances_move(live: LiveServer) -> None:
    with connect(live.url + "/r", open_timeout=T) as ws:
        report = _save(live, _source(cls="Loud"))
        assert roundtrip(ws) == "Loud v1 limit=1000 True"
    assert report.renamed == ["Echo -> Loud"] and report.moved == 1, str(report)
    assert "renamed Echo -> Loud" in str(report)


def test_changed_options_are_reported_and_live_connections_keep_the_ones_they_were_accepted_with(
    live: LiveServer,
) -> None:
    with connect(live.url + "/r", open_timeout=T, max_size=None) as old:
        report = _save(live, _source(limit=2000))
        assert report.options == ["/r max_message_size 1000 -> 2000"], str(report)
        assert "live connections keep the ones they were accepted with" in str(report)
        # self.resource is the resource served now, with the new class and options ...
        assert roundtrip(old) == "Echo v1 limit=2000 True"
        with connect(live.url + "/r", open_timeout=T) as new:
            assert roundtrip(new, "x" * 1500).startswith("Echo v1 limit=2000")
        # ... while the live connection's limits are those it was accepted with.
        old.send("x" * 1500)
        with pytest.raises(ConnectionClosed) as info:
            old.recv(timeout=T)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1009


def test_attributes_the_new_code_sets_in_on_open_that_live_instances_lack_are_warned_about(
    live: LiveServer,
) -> None:
    with connect(live.url + "/r", open_timeout=T) as ws, connect(live.url + "/r", open_timeout=T):
        roundtrip(ws)
        report = _save(live, _source(extra="\n        self.history = []"))
    assert report.lacking == [
        "2 live Echo instances lack history (set in on_open): give the class a default (history = ...) "
        "or set it in on_reload(self, old_cls)"
    ], str(report)
    assert "WARNING 2 live Echo instances lack history" in str(report)
