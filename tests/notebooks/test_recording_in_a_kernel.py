"""In a real kernel: a recorded class is served as itself (``type(handler) is Cls``), before and after a
live replace from a re-run cell, and its messages still reach ``next_message``."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import T, assert_ran_clean, run_notebook

_CELLS = {
    "start": f"""
import livews
from websockets.sync.client import connect
T = {T}
srv = livews.start(port=0, quiet=True)
""",
    "first version": """
class Counter(livews.Handler):
    def on_open(self):
        self.count = 0

    def on_text(self, message):
        self.count += 1
        self.send_text(f"v1 {message} #{self.count}")

srv.register("/count", Counter)
first = Counter
ws = connect(srv.url + "/count")
ws.send("a")
print(ws.recv(timeout=T))
[client] = srv.clients("/count")
print("served as itself:", type(client.handler) is Counter)
""",
    "changed and run again": """
class Counter(livews.Handler):
    def on_text(self, message):
        self.count += 1
        self.send_text(f"v2 {message} #{self.count}")

report = srv.register("/count", Counter)
ws.send("b")
print(ws.recv(timeout=T))
print("moved:", report.moved, type(client.handler) is Counter, type(client.handler) is first)
""",
    "messages": """
print([srv.next_message("/count", timeout=T).data for _ in range(2)])
ws.close()
srv.stop()
""",
}


def test_a_recorded_class_is_served_as_itself_across_a_live_replace_in_a_kernel(tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.v4.new_notebook()
    for tag, source in _CELLS.items():
        nb.cells.append(nbformat.v4.new_code_cell(source.strip(), metadata={"tags": [tag]}))
    path = tmp_path / "recording.ipynb"
    nbformat.write(nb, path)
    done = run_notebook(path)
    assert_ran_clean(done)
    assert done["first version"].stdout.splitlines() == ["v1 a #1", "served as itself: True"]
    assert done["changed and run again"].stdout.splitlines() == ["v2 b #2", "moved: 1 True False"]
    assert done["messages"].stdout.splitlines() == ["['a', 'b']"]
