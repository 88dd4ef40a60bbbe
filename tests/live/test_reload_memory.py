"""Memory does not grow with the number of reloads: 1,000 reloads with a live connection moved each time hold
the same memory, give or take a fixed bound (the reports kept are a fixed number; older ones are dropped)."""

from __future__ import annotations

import gc
import time
import tracemalloc
from pathlib import Path

from websockets.sync.client import connect

from livews.live import LiveServer
from livews.live.handle import REPORTS_KEPT

from .conftest import T
from .saves import roundtrip

SOURCE = """\
from livews import Handler, resource
from livews.live import keep

seen = keep("seen", [0])
VERSION = {version}


@resource("/m")
class M(Handler):
    def on_open(self):
        self.n = 0

    def on_text(self, message):
        self.n += 1
        self.send_text(f"v{{VERSION}} {{self.n}}")
"""

RELOADS = 1000
WARM_UP = REPORTS_KEPT + 50  # the kept reports are full from here on
#: Growth allowed over the measured reloads: far below what one kept report per reload would cost (~0.8 KB).
BOUND = 64 * 1024


def test_a_thousand_reloads_do_not_grow_memory_beyond_a_fixed_bound(tmp_path: Path) -> None:
    handlers = tmp_path / "handlers"
    handlers.mkdir()
    handler = handlers / "m.py"
    handler.write_text(SOURCE.format(version=0))
    deadline = time.monotonic() + 30 * T
    with LiveServer(handlers, port=0, call_timeout=T, reload=False) as live:
        with connect(live.url + "/m", open_timeout=T) as ws:
            tracemalloc.start()
            try:
                for version in range(1, RELOADS + 1):
                    assert time.monotonic() < deadline, f"only {version} reloads in {30 * T} s"
                    handler.write_text(SOURCE.format(version=version % 2))
                    [report] = live.reload()
                    assert report.ok and report.moved == 1, str(report)
                    if version == WARM_UP:
                        gc.collect()
                        before = tracemalloc.get_traced_memory()[0]
                gc.collect()
                growth = tracemalloc.get_traced_memory()[0] - before
            finally:
                tracemalloc.stop()
            assert roundtrip(ws).endswith(" 1")  # the instance kept its state through every move
        assert growth < BOUND, f"{growth} bytes more after {RELOADS - WARM_UP} reloads"
        assert live.report_count == RELOADS + 1 and len(live.reports) == REPORTS_KEPT
        assert len(live.history()) == REPORTS_KEPT
