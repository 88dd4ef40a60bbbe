"""notebooks/debugging.ipynb in a real ipykernel: a handler error held, inspected, debugged, fixed, retried.

What is checked: the error record in ``srv.errors`` (where, exception, outcome), the locals of the handler's
frame as they were, pdb driven by ``debug(commands=[...])`` inside the kernel reaching that frame, and the
retry answering the held client after the class is registered again. The interactive ``debug()`` (IPython's
debugger reading the notebook's stdin) is not driven here: nbclient runs kernels without stdin.
"""

from __future__ import annotations

import re

import pytest

from .conftest import ExecutedNotebook, assert_ran_clean, run_notebook


@pytest.fixture(scope="module")
def nb() -> ExecutedNotebook:
    return run_notebook("debugging.ipynb")


def test_every_cell_runs_without_an_error(nb: ExecutedNotebook) -> None:
    assert_ran_clean(nb)


def test_the_error_is_shown_with_the_users_line_and_the_client_is_held(nb: ExecutedNotebook) -> None:
    cell = nb["client-held"]
    assert "client 1 on /divide is held" in cell.stdout and "<server>.retry(1)" in cell.stdout
    assert cell.stderr.startswith("livews: Divide.on_text raised (held)")
    assert "quotient = numerator // denominator" in cell.stderr and "dispatch.py" not in cell.stderr
    held = cell.data["text/plain"].splitlines()
    assert "/divide" in held[2] and held[-1] == "1 client"


def test_srv_errors_has_the_record_with_its_frames_and_locals(nb: ExecutedNotebook) -> None:
    assert "Divide.on_text raised" in nb["errors"].data["text/plain"]
    assert "<table>" in nb["errors"].data["text/html"]
    assert nb["inspect"].stdout == (
        "Divide.on_text | ZeroDivisionError: integer division or modulo by zero | held | client 1 /divide\n"
        "locals: {'message': '12/0', 'numerator': 12, 'denominator': 0}\n"
    )


def test_debug_with_commands_runs_pdb_in_the_handlers_frame_inside_the_kernel(nb: ExecutedNotebook) -> None:
    out = nb["debug"].stdout
    assert "(4)on_text()" in out
    assert re.search(r"-+> (4 +)?quotient = numerator // denominator", out)  # pdb's marker, or IPython's
    assert "db> (12, 0)" in out  # "(Pdb) " from pdb, "ipdb> " from the kernel's debugger


def test_registering_the_fix_moves_the_held_instance_and_retry_answers_the_failed_message(
    nb: ExecutedNotebook,
) -> None:
    assert nb["fix"].stdout == "1 instance moved\n"
    assert nb["retry"].stdout == "12/0 = undefined\n10/2 = 5\nheld now: 0 | outcome: retried\n"
