"""notebooks/broadcast.ipynb, executed top to bottom in a real ipykernel, checked cell by cell."""

from __future__ import annotations

import re

import pytest

from .conftest import ExecutedNotebook, assert_ran_clean, has_matplotlib, run_notebook


@pytest.fixture(scope="module")
def nb() -> ExecutedNotebook:
    return run_notebook("broadcast.ipynb")


def test_every_cell_runs_without_an_error(nb: ExecutedNotebook) -> None:
    assert_ran_clean(nb)


def test_the_server_starts_under_its_own_key(nb: ExecutedNotebook) -> None:
    assert re.fullmatch(r"livews: serving at ws://127\.0\.0\.1:\d+ \(key 'broadcast'\)\n", nb["start"].stdout)


def test_one_broadcast_reaches_every_client_once(nb: ExecutedNotebook) -> None:
    assert nb["connect"].stdout == "64 clients connected\n"
    assert nb["broadcast-once"].stdout == "sent to 64 clients; 64 of 64 received 'hello, room'\n"


def test_every_timed_round_reaches_every_client(nb: ExecutedNotebook) -> None:
    lines = nb["timed"].stdout.splitlines()
    assert lines[0] == "320 deliveries in 5 rounds"
    assert re.fullmatch(r"median \d+\.\d\d ms, max \d+\.\d\d ms", lines[1])


def test_a_handler_relays_one_clients_message_to_all_the_others(nb: ExecutedNotebook) -> None:
    assert nb["relay"].stdout == "63 listeners got the relayed message\nthe server got: client 0 says hi\n"


def test_delivery_times_are_plotted_when_matplotlib_is_installed(nb: ExecutedNotebook) -> None:
    cell = nb["plot"]
    if has_matplotlib():
        assert "image/png" in cell.data
        assert cell.stdout == "plotted 383 delivery times\n"
    else:
        assert cell.stdout.startswith("matplotlib is not installed")


def test_stats_count_the_clients_and_stop_closes_them_all_with_1001(nb: ExecutedNotebook) -> None:
    stats = nb["stats"].data["text/plain"]
    assert re.search(r"^clients +64$", stats, re.MULTILINE)
    assert re.search(r"^handler errors +0$", stats, re.MULTILINE)
    assert nb["stop"].stdout.endswith("clients closed with [1001]\n")
    assert nb["stop"].stdout.startswith("livews: stopped ws://127.0.0.1:")
