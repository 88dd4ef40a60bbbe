"""Handler errors are kept and shown where the user looks; the handle and tables print as HTML and text."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

import livews
from livews.live.notebook import NotebookServer

from .conftest import REPO, T
from .handlers import Broken, Echo

Start = Callable[..., NotebookServer]


#: The package's own directory, wherever the checkout lives (a clone is often itself named ``livews``).
_PACKAGE_DIR = Path(livews.__file__).resolve().parent


def _frames_inside_livews(traceback: str) -> list[str]:
    """The files of the traceback's frames that are livews' own code (which the user should not see)."""
    files = re.findall(r'^  File "([^"]+)", line \d+', traceback, flags=re.MULTILINE)
    assert files, traceback  # a traceback with no frame would make the check below vacuous
    return [f for f in files if Path(f).resolve().is_relative_to(_PACKAGE_DIR)]


def _close_code(ws: object) -> int:
    with pytest.raises(ConnectionClosed) as info:
        ws.recv(timeout=T)  # type: ignore[attr-defined]
    assert info.value.rcvd is not None
    return info.value.rcvd.code


def test_a_handler_error_closes_with_1011_is_kept_and_printed_with_the_users_line(
    start: Start, capsys: pytest.CaptureFixture[str]
) -> None:
    srv = start(key="errors")
    srv.register("/broken", Broken)
    with connect(srv.url + "/broken") as ws:
        ws.send("boom")
        assert _close_code(ws) == 1011
    [problem] = srv.errors
    assert problem.level == "ERROR" and "Broken.on_text raised" in problem.message
    assert problem.error == "ZeroDivisionError: division by zero"
    assert problem.traceback is not None and "return 1 / 0" in problem.traceback
    assert _frames_inside_livews(problem.traceback) == []  # trimmed to the user's code
    err = capsys.readouterr().err  # outside IPython: printed at once, from the server thread
    assert err.startswith("livews: Broken.on_text raised") and "return 1 / 0" in err
    assert srv.stats()["handler errors"] == 1
    with connect(srv.url + "/broken") as ws:  # the resource keeps serving
        ws.send("again")
        assert _close_code(ws) == 1011
    assert len(srv.errors) == 2


def test_records_from_other_threads_are_not_the_servers_errors(start: Start) -> None:
    srv = start(key="other-thread")
    logging.getLogger("livews.server").error("logged by the test thread")
    assert srv.errors == []


def test_the_errors_table_prints_as_text_and_html(start: Start) -> None:
    srv = start(key="errors-table")
    assert repr(srv.errors) == "(no errors)"
    srv.register("/broken", Broken)
    with connect(srv.url + "/broken") as ws:
        ws.send("boom")
        _close_code(ws)
    text = repr(srv.errors)
    assert text.splitlines()[0].split() == ["when", "level", "what", "error"]
    assert "ZeroDivisionError: division by zero" in text
    assert "<table>" in srv.errors._repr_html_()


def test_in_ipython_an_error_between_cells_is_printed_once_by_the_next_cell() -> None:
    pytest.importorskip("IPython")
    script = textwrap.dedent(
        f"""
        import sys
        from IPython.core.interactiveshell import InteractiveShell
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect
        import livews

        shell = InteractiveShell.instance()
        srv = livews.start(port=0, quiet=True)

        class Broken(livews.Handler):
            def on_text(self, message):
                raise ValueError("bad " + message)

        srv.register("/broken", Broken)
        with connect(srv.url + "/broken") as ws:
            ws.send("input")
            try:
                ws.recv(timeout={T})
            except ConnectionClosed as closed:
                print("closed", closed.rcvd.code, flush=True)
        assert len(srv.errors) == 1
        sys.stderr.write("--- no cell ran yet\\n")
        sys.stderr.flush()
        shell.run_cell("print('cell ran')")
        sys.stderr.write("--- after the first cell\\n")
        sys.stderr.flush()
        shell.run_cell("print('second cell ran')")
        sys.stderr.write("--- after the second cell\\n")
        srv.stop()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=6 * T
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["closed 1011", "cell ran", "second cell ran"]
    # Nothing from the server thread before a cell runs; the first cell prints it; the second does not again.
    first, second, third = done.stderr.split("--- ")[1:4]
    marker, shown = first.split("\n", 1)
    assert marker == "no cell ran yet"
    assert shown.startswith("livews: Broken.on_text raised") and shown.endswith("ValueError: bad input\n")
    assert second == "after the first cell\n" and third == "after the second cell\n"


def test_the_handle_shows_url_state_and_resources_as_html_and_text(start: Start) -> None:
    srv = start(key="display")
    srv.register("/echo", Echo)
    with connect(srv.url + "/echo"):
        text = str(srv)
        assert text.splitlines()[0] == f"livews {srv.url} running, 1 client, 0 errors"
        assert text.splitlines()[3].split() == ["/echo", "Echo", "1", "repl"]
        html = srv._repr_html_()
        assert f"<code>{srv.url}</code> running, 1 client, 0 errors" in html and "<table>" in html
        assert ">/echo</td>" in html
        assert "<table>" in srv.clients()._repr_html_() and "/echo" in repr(srv.clients())
    srv.stop(timeout=T)
    assert str(srv) == f"livews {srv.url} stopped"
    assert repr(srv) == f"<NotebookServer {srv.url} stopped>"
    assert srv._repr_html_() == f"<p><b>livews</b> <code>{srv.url}</code> stopped</p>"
