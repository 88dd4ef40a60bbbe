"""A batch of file events is one change: a renamed or moved file keeps serving its paths, its live connections
move to the code in the new file and its ``keep`` state goes with it, whatever the order of the names. A
deleted file that comes back gets its ``keep`` state back."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import connect

from livews.live import LiveServer

from .conftest import T
from .saves import ask, reports_until, roundtrip

SOURCE = """\
from livews import Handler, resource
from livews.live import keep

count = keep("count", [0])


@resource("/x")
class Counter(Handler):
    def on_text(self, message):
        count[0] += 1
        self.send_text(f"{__name__.rpartition('.')[2]} {count[0]}")
"""


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    handlers = tmp_path / "handlers"
    handlers.mkdir()
    (handlers / "middle.py").write_text(SOURCE)
    server = LiveServer(handlers, port=0, call_timeout=T, watch_livews=False)
    server.start(timeout=T)
    try:
        yield server
    finally:
        server.stop(timeout=T)


@pytest.mark.parametrize("new_name", ["aaa.py", "zzz.py"], ids=["to-an-earlier-name", "to-a-later-name"])
def test_a_renamed_file_keeps_serving_its_paths_moves_its_clients_and_keeps_its_state(
    live: LiveServer, new_name: str
) -> None:
    handlers = live.handlers_dir
    assert handlers is not None
    with connect(live.url + "/x", open_timeout=T) as ws:
        assert roundtrip(ws) == "middle 1"
        first = live.report_count
        os.rename(handlers / "middle.py", handlers / new_name)
        [report] = reports_until(live, first, f"handlers/{new_name}")
        assert report.ok and report.kind == "rename", str(report)
        assert report.renamed_from == "handlers/middle.py" and report.moved == 1, str(report)
        assert report.carried == ["count"] and not report.removed and not report.added, str(report)
        stem = new_name.removesuffix(".py")
        assert roundtrip(ws) == f"{stem} 2"  # the live connection runs the code of the new file
        assert ask(live, "/x") == f"{stem} 3"  # new connections too, with the state carried over
    assert all(r.ok and not r.removed for r in live.reports), live.reports
    assert [e.path for e in live.resources()] == ["/x"]


def test_a_file_moved_out_of_the_folder_and_back_is_a_delete_and_a_restore_that_keeps_state(
    live: LiveServer, tmp_path: Path
) -> None:
    handlers = live.handlers_dir
    assert handlers is not None
    with connect(live.url + "/x", open_timeout=T) as ws:
        assert roundtrip(ws) == "middle 1"
        first = live.report_count
        os.rename(handlers / "middle.py", tmp_path / "parked.py")
        [report] = reports_until(live, first, "removed handlers/middle.py")
        assert report.removed == ["/x"] and report.kept_live == 1
        assert roundtrip(ws) == "middle 2"  # a live connection stays
        first = live.report_count
        os.rename(tmp_path / "parked.py", handlers / "middle.py")
        [report] = reports_until(live, first, "loaded handlers/middle.py")
        assert report.ok and report.carried == ["count"] and report.added == ["/x"], str(report)
        assert report.moved == 1, str(report)  # the connection kept meanwhile moves to the restored code
        assert roundtrip(ws) == "middle 3"
        assert ask(live, "/x") == "middle 4"


def test_a_deleted_and_rewritten_file_keeps_its_state(live: LiveServer) -> None:
    handlers = live.handlers_dir
    assert handlers is not None
    assert ask(live, "/x") == "middle 1"
    first = live.report_count
    (handlers / "middle.py").unlink()
    reports_until(live, first, "removed handlers/middle.py")
    first = live.report_count
    (handlers / "middle.py").write_text(SOURCE.replace("count[0] += 1", "count[0] += 10"))
    [report] = reports_until(live, first, "loaded handlers/middle.py")
    assert report.carried == ["count"], str(report)
    assert ask(live, "/x") == "middle 11"


def test_a_file_replaced_by_a_differently_written_one_in_one_change_takes_over_its_state_and_clients(
    live: LiveServer,
) -> None:
    handlers = live.handlers_dir
    assert handlers is not None
    rewritten = (
        "from livews import Handler, resource\nfrom livews.live import keep\n\n"
        "count = keep('count', [0])\n\n\n@resource('/x')\nclass Tally(Handler):\n"
        "    def on_text(self, message):\n        count[0] += 100\n"
        "        self.send_text(f'tally {count[0]}')\n"
    )
    with connect(live.url + "/x", open_timeout=T) as ws:
        assert roundtrip(ws) == "middle 1"
        first = live.report_count
        (handlers / ".tally.py.tmp").write_text(rewritten)
        os.rename(handlers / ".tally.py.tmp", handlers / "tally.py")
        (handlers / "middle.py").unlink()
        [report] = reports_until(live, first, "handlers/tally.py")
        assert report.kind == "rename" and report.carried == ["count"], str(report)
        assert report.renamed == ["Counter -> Tally"] and report.moved == 1, str(report)
        assert roundtrip(ws) == "tally 101"


def test_a_rename_seen_in_two_batches_still_moves_state_and_clients(live: LiveServer) -> None:
    handlers = live.handlers_dir
    assert handlers is not None
    with connect(live.url + "/x", open_timeout=T) as ws:
        assert roundtrip(ws) == "middle 1"
        first = live.report_count
        (handlers / "copy.py").write_text(SOURCE)  # the new name first (cp, then rm) ...
        [refused] = reports_until(live, first, "handlers/copy.py")
        assert not refused.ok and "/x is already served by handlers/middle.py" in str(refused)
        assert roundtrip(ws) == "middle 2"
        first = live.report_count
        (handlers / "middle.py").unlink()  # ... then the old one goes: the pair is a rename
        [report] = reports_until(live, first, "handlers/copy.py")
        assert report.ok and report.kind == "rename" and report.carried == ["count"], str(report)
        assert report.moved == 1 and not report.removed, str(report)
        assert roundtrip(ws) == "copy 3"
        assert ask(live, "/x") == "copy 4"
