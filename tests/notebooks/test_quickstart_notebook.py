"""notebooks/quickstart.ipynb, executed top to bottom in a real ipykernel, checked cell by cell."""

from __future__ import annotations

import re

import pytest

from .conftest import ExecutedNotebook, assert_ran_clean, run_notebook


@pytest.fixture(scope="module")
def nb() -> ExecutedNotebook:
    return run_notebook("quickstart.ipynb")


def _url(nb: ExecutedNotebook) -> str:
    pattern = r"livews: serving at (ws://127\.0\.0\.1:\d+) \(key '127\.0\.0\.1:0'\)\n"
    match = re.fullmatch(pattern, nb["start"].stdout)
    assert match is not None, nb["start"].stdout
    return match.group(1)


def test_every_cell_runs_without_an_error(nb: ExecutedNotebook) -> None:
    assert_ran_clean(nb)


def test_start_shows_the_url_and_running_the_cell_again_returns_the_same_server(nb: ExecutedNotebook) -> None:
    url = _url(nb)
    out = nb["same-server"].stdout
    assert out.startswith(f"livews: already serving at {url} (key '127.0.0.1:0')")
    assert out.endswith("same server: True\n")


def test_a_handler_class_from_a_cell_serves_at_once_to_a_client_in_the_notebook(nb: ExecutedNotebook) -> None:
    assert nb["register-echo"].data["text/plain"].startswith("registered /echo -> Echo; serving /echo;")
    assert nb["client-echo"].stdout == "echo: hello\n"


def test_next_message_makes_a_cell_by_cell_conversation(nb: ExecutedNotebook) -> None:
    assert nb["next-message"].stdout == "server got: hello on /echo\nclient got: hi from the notebook\n"
    assert nb["next-message-async"].stdout == "server got: ping\necho: ping\n"


def test_registering_the_changed_class_is_a_live_replace_that_keeps_connection_and_state(
    nb: ExecutedNotebook,
) -> None:
    # "#3": the instance kept the two messages it saw before the replace.
    assert nb["live-replace"].stdout == "1 instance moved\necho: #3 AGAIN\n"


def test_clients_resources_and_the_handle_display_as_html_tables_and_text(nb: ExecutedNotebook) -> None:
    url = _url(nb)
    clients = nb["clients"].data
    assert "<table>" in clients["text/html"] and ">/echo</td>" in clients["text/html"]
    assert {"host", "port", "path", "handler"} <= set(clients["text/plain"].splitlines()[0].split())
    assert clients["text/plain"].endswith("Echo\n1 client")
    resources = nb["resources"].data
    assert "<table>" in resources["text/html"]
    assert resources["text/plain"].splitlines()[2].split() == ["/echo", "Echo", "1", "repl"]
    handle = nb["handle"].data
    assert f"<code>{url}</code> running, 1 client, 0 errors" in handle["text/html"]
    assert "<table>" in handle["text/html"]
    assert handle["text/plain"].splitlines()[0] == f"livews {url} running, 1 client, 0 errors"


def test_a_handler_error_is_shown_in_the_cell_that_triggered_it(nb: ExecutedNotebook) -> None:
    cell = nb["broken"]
    assert cell.stdout == "closed with 1011\n"
    assert cell.stderr.startswith("livews: Broken.on_text raised")
    assert "return len(message) / 0" in cell.stderr  # the cell's own line
    assert cell.stderr.rstrip().endswith("ZeroDivisionError: division by zero")
    assert "livews/server" not in cell.stderr
    assert cell.errors == []  # shown, not raised into the notebook
    assert "ZeroDivisionError: division by zero" in nb["errors"].data["text/html"]
    # Shown once, in that cell only.
    others = [tag for tag, c in nb.cells.items() if "ZeroDivisionError" in c.stderr and tag != "broken"]
    assert others == []


def test_stop_closes_the_client_with_1001_and_frees_the_port(nb: ExecutedNotebook) -> None:
    url = _url(nb)
    assert nb["stop"].stdout == (
        f"livews: stopped {url} (1 client closed, port freed)\n"
        "client closed with 1001\n"
        "served again on the same port: True\n"
    )
