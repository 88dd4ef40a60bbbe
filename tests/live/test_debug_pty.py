"""Debug on error at the prompt of ``python -m livews``: a real process, a real pty, real WebSocket clients.

A handler raises on a message; the client is held (not closed), the prompt says so, ``pm()`` opens pdb in
the handler's frame, a fixed file is saved (the reloader moves the held instance), ``retry`` answers the
message that failed and the one that waited behind it. ``skip``, the hold time limit and
``--no-debug-on-error`` (today's 1011) are checked the same way.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from .conftest import T, install
from .prompt import REPO, Prompt

_HELD = (
    r"error #(\d+): Divide\.on_text raised ZeroDivisionError: integer division or modulo by zero; "
    r"client (\d+)"
)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "handlers", tmp_path / "handlers")
    install("divide_bug", tmp_path / "handlers", "divide.py")
    return tmp_path


def _held(prompt: Prompt) -> tuple[int, int]:
    """Wait for the prompt's line about a held client; return (error number, client id)."""
    prompt.expect(_HELD)
    match = prompt.child.match
    prompt.expect(r"is held\. pm\(\d+\) to debug")
    return int(match.group(1)), int(match.group(2))


def _closed_with(ws: object) -> int:
    with pytest.raises(ConnectionClosed) as info:
        ws.recv(timeout=T)  # type: ignore[attr-defined]
    assert info.value.rcvd is not None
    return info.value.rcvd.code


def test_held_client_is_debugged_with_pm_fixed_by_a_save_and_answered_by_retry(
    prompt: Prompt, workdir: Path
) -> None:
    assert "debug on error: on" in prompt.banner
    with connect(f"{prompt.url}/divide") as ws:
        ws.send("7/7")
        assert ws.recv(timeout=T) == "7/7 = 1 (#1)"
        ws.send("12/0")
        ws.send("10/2")  # waits behind the failed message
        number, client = _held(prompt)

        table = prompt.run("print(errors())")
        # The table's row, not the server's log line about the same error (printed above the prompt).
        row = next(line for line in table.splitlines() if "Divide.on_text" in line and "raised" not in line)
        assert f" {client} " in row and "/divide" in row and "ZeroDivisionError" in row and "held" in row

        prompt.child.sendline(f"pm({number})")
        # pdb's own lines go through the prompt's stdout proxy, its "(Pdb) " straight to the terminal: the
        # order in which they show is not fixed, so each is waited for on its own.
        prompt.expect(r"divide\.py\(13\)on_text\(\)")
        prompt.expect(r"quotient = numerator // denominator")
        prompt.child.sendline("p numerator, denominator, message, self.answered")
        prompt.expect(r"\(12, 0, '12/0', 1\)")
        with connect(f"{prompt.url}/echo") as other:  # pdb waits for the person; the server does not
            for i in range(20):
                other.send(f"while in pdb {i}")
                assert other.recv(timeout=T) == f"while in pdb {i}"
        prompt.child.sendline("c")
        prompt.expect(">>>")

        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.3)  # still held: no answer, no close

        install("divide_fixed", workdir / "handlers", "divide.py")
        prompt.expect(r"reloaded handlers/divide\.py; changed Divide; 1 instance moved")

        prompt.run(f"retry({client})")
        assert ws.recv(timeout=T) == "12/0 = undefined (#2)"  # the failed message, to the fixed code
        assert ws.recv(timeout=T) == "10/2 = 5 (#3)"  # then the one that waited
        ws.send("9/0")
        assert ws.recv(timeout=T) == "9/0 = undefined (#4)"
        out = prompt.run("print(errors()[-1].outcome, len(held()))")
        assert "retried 0" in out
    prompt.leave()


def test_skip_drops_the_failed_message_and_kick_closes_a_held_client_with_1011(prompt: Prompt) -> None:
    with connect(f"{prompt.url}/divide") as ws, connect(f"{prompt.url}/divide") as other:
        ws.send("1/0")
        ws.send("8/4")
        _, client = _held(prompt)
        other.send("6/3")  # another client never notices
        assert other.recv(timeout=T) == "6/3 = 2 (#1)"
        prompt.run(f"skip({client})")
        assert ws.recv(timeout=T) == "8/4 = 2 (#1)"
        ws.send("5/0")
        _, again = _held(prompt)
        assert again == client
        prompt.run(f"kick({client})")
        assert _closed_with(ws) == 1011
        other.send("4/2")
        assert other.recv(timeout=T) == "4/2 = 2 (#2)"


def test_a_held_client_nobody_attends_is_closed_with_1011_after_the_hold_timeout(workdir: Path) -> None:
    with Prompt(workdir, "--debug-hold-timeout", "0.5") as prompt:
        with connect(f"{prompt.url}/divide") as ws:
            ws.send("3/0")
            _held(prompt)
            assert _closed_with(ws) == 1011
        prompt.expect("nobody attending; closing it with 1011")
        out = prompt.run("print(errors()[-1].outcome)")
        assert "hold timed out; closed 1011" in out


def test_with_no_debug_on_error_a_raising_handler_closes_with_1011_as_before(workdir: Path) -> None:
    with Prompt(workdir, "--no-debug-on-error") as prompt:
        assert "debug on error: off" in prompt.banner
        with connect(f"{prompt.url}/divide") as ws:
            ws.send("3/0")
            assert _closed_with(ws) == 1011
        out = prompt.run("print(errors()[-1].outcome, len(held()))")
        assert "closed 1011 0" in out
        assert not re.search(r"is held", out)


def test_the_backlog_option_reaches_listen_from_the_command_line(workdir: Path) -> None:
    with Prompt(workdir, "--backlog", "17") as prompt:
        out = subprocess.run(
            ["ss", "-Hltn", f"sport = :{prompt.port}"], capture_output=True, text=True, check=True, timeout=T
        ).stdout
        [listening] = [line for line in out.splitlines() if line.strip()]
        assert int(listening.split()[2]) == 17  # Send-Q of a listening socket: its backlog
