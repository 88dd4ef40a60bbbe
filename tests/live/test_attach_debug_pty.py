"""Debug on error at an attached prompt: a real ``serve --debug-on-error`` process, a prompt in a real pty.

The attached prompt has the local prompt's helpers; ``pm()`` runs pdb on the attached terminal (over the
socket, on the session's thread: the server and its other clients go on), and the line about a held client
reaches the attached prompt as it happens.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import connect

from .conftest import T, install
from .prompt import REPO, Serve, attach

_HELD = (
    r"error #(\d+): Divide\.on_text raised ZeroDivisionError: integer division or modulo by zero; "
    r"client (\d+) on /divide is held"
)


@pytest.fixture
def serve(tmp_path: Path, runtime: Path) -> Iterator[Serve]:
    shutil.copytree(REPO / "handlers", tmp_path / "handlers")
    install("divide_bug", tmp_path / "handlers", "divide.py")
    server = Serve(tmp_path, runtime, "--debug-on-error")
    try:
        yield server
    finally:
        server.close()


def test_an_attached_prompt_is_told_of_a_held_client_and_debugs_it_with_pm_on_its_own_terminal(
    serve: Serve, tmp_path: Path, runtime: Path
) -> None:
    with attach(tmp_path, runtime) as prompt:
        assert "debug on error: on" in prompt.banner
        with connect(f"{serve.url}/divide") as ws:
            ws.send("12/0")
            ws.send("10/2")  # waits behind the failed message
            prompt.expect(_HELD)  # announced at the attached prompt, not only in the server's terminal
            number, client = int(prompt.child.match.group(1)), int(prompt.child.match.group(2))

            table = prompt.run("print(errors())")
            rows = [line for line in table.splitlines() if "Divide.on_text" in line]
            row = next(line for line in rows if "raised" not in line)
            assert f" {client} " in row and "ZeroDivisionError" in row and "held" in row

            prompt.child.sendline(f"pm({number})")
            prompt.expect(r"divide\.py\(13\)on_text\(\)")
            prompt.expect(r"\(Pdb\) ")
            prompt.child.sendline("p numerator, denominator, message")
            prompt.expect(r"\(12, 0, '12/0'\)")
            prompt.expect(r"\(Pdb\) ")
            with connect(f"{serve.url}/echo") as other:  # pdb waits for the person; the server does not
                for i in range(10):
                    other.send(f"while in pdb {i}")
                    assert other.recv(timeout=T) == f"while in pdb {i}"
            prompt.child.sendline("c")
            prompt.expect(">>>")
            assert "alive" in prompt.run("print('al' + 'ive')")  # the prompt is back after pdb

            with pytest.raises(TimeoutError):
                ws.recv(timeout=0.3)  # still held
            prompt.run(f"skip({client})")
            assert ws.recv(timeout=T) == "10/2 = 5 (#1)"  # the failed message dropped, the next answered

            install("divide_fixed", tmp_path / "handlers", "divide.py")
            prompt.expect(r"reloaded handlers/divide\.py")  # reload reports reach attached prompts too
            ws.send("3/0")
            ws.recv(timeout=T)  # the fixed code answers
            out = prompt.run("print(len(held()), errors()[-1].outcome)")
            assert "0 skipped" in out


def test_retry_at_an_attached_prompt_answers_the_failed_message_with_the_fixed_code(
    serve: Serve, tmp_path: Path, runtime: Path
) -> None:
    with attach(tmp_path, runtime) as prompt:
        with connect(f"{serve.url}/divide") as ws:
            ws.send("12/0")
            prompt.expect(_HELD)
            client = int(prompt.child.match.group(2))
            install("divide_fixed", tmp_path / "handlers", "divide.py")
            prompt.expect(r"reloaded handlers/divide\.py; changed Divide; 1 instance moved")
            prompt.run(f"retry({client})")
            assert ws.recv(timeout=T) == "12/0 = undefined (#1)"
