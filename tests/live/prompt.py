"""Drive ``python -m livews`` in a real pseudo-terminal (pexpect), as a person at the prompt would."""

from __future__ import annotations

import itertools
import os
import re
import sys
from pathlib import Path
from typing import Any

import pexpect

from .conftest import T

REPO = Path(__file__).resolve().parents[2]
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[=>]|\r|.\x08")


def plain(text: str) -> str:
    """Terminal output without colours, cursor moves, carriage returns and backspaced characters."""
    return _ANSI.sub("", text)


def spawn_livews(
    cwd: Path, args: list[str], env: dict[str, str] | None = None, *, terminal: bool = False
) -> pexpect.spawn:
    """``python -m livews <args>`` in a real pty, run in ``cwd`` with this checkout first on its path.

    ``env`` adds variables. ``terminal``: one ptpython draws on predictably (a wide screen, a known
    ``TERM``, no cursor-position queries, no ``PYTHONSTARTUP``).
    """
    variables = dict(os.environ, PYTHONPATH=str(REPO), **(env or {}))
    options: dict[str, Any] = {}
    if terminal:
        variables.update(PROMPT_TOOLKIT_NO_CPR="1", TERM="xterm")
        variables.pop("PYTHONSTARTUP", None)
        options["dimensions"] = (60, 220)
    return pexpect.spawn(
        sys.executable,
        ["-m", "livews", *args],
        cwd=str(cwd),
        env=variables,
        encoding="utf-8",
        timeout=T,
        **options,
    )


class Serve:
    """``python -m livews serve --port 0`` in the background, with its attach line read."""

    def __init__(self, cwd: Path, runtime: Path, *args: str) -> None:
        self.child = spawn_livews(cwd, ["serve", "--port", "0", *args], {"XDG_RUNTIME_DIR": str(runtime)})
        self.child.expect(r"attach: python -m livews attach --port (\d+)")
        self.port = int(self.child.match.group(1))
        self.url = f"ws://127.0.0.1:{self.port}"
        self.socket = runtime / "livews" / f"{self.port}.sock"
        self.child.expect("Ctrl-C stops the server")

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)


def attach(cwd: Path, runtime: Path, *args: str) -> Prompt:
    """``python -m livews attach`` in a pty, for the servers of ``runtime``."""
    return Prompt(cwd, command=["attach", *args], env={"XDG_RUNTIME_DIR": str(runtime)})


class Prompt:
    """A ``python -m livews`` process in a pty: run statements, read what they printed, leave the prompt.

    ``command`` replaces the arguments after ``-m livews`` (``["attach"]`` for an attached prompt), ``env``
    adds variables (``XDG_RUNTIME_DIR`` for attach).
    """

    def __init__(
        self, cwd: Path, *args: str, command: list[str] | None = None, env: dict[str, str] | None = None
    ) -> None:
        args = command if command is not None else ["--port", "0", *args]
        self.child = spawn_livews(cwd, args, env, terminal=True)
        self._marks = itertools.count()
        self.expect(r"serving ws://127\.0\.0\.1:(\d+)")
        self.port = int(self.child.match.group(1))
        self.url = f"ws://127.0.0.1:{self.port}"
        self.banner = plain(self.child.before + self.child.after)
        self.expect(r"Ctrl-D or exit\(\) (stops the server|detaches)")
        self.banner += plain(self.child.before + self.child.after)
        self.expect(">>>")

    def expect(self, pattern: str, timeout: float = T) -> str:
        """Wait for ``pattern`` in the output; return (plain) everything printed before it."""
        self.child.expect(pattern, timeout=timeout)
        return plain(self.child.before)

    def run(self, statement: str) -> str:
        """Run one line at the prompt and return what it printed (the echoed input included)."""
        mark = next(self._marks)
        # The marker is built at run time, so the echoed input never matches it.
        self.child.sendline(f"{statement}; print('@' + 'done{mark}')")
        out = self.expect(f"@done{mark}")
        # ptpython prints through patch_stdout, whose writer thread may put the statement's output after the
        # next prompt is drawn: then that prompt is already in ``out``, after the echoed input.
        if ">>>" not in out.rpartition(f"'done{mark}')")[2]:
            self.expect(">>>")
        return out

    def leave(self) -> str:
        """Ctrl-D, confirm, and wait for the process to end; return what it printed meanwhile."""
        self.child.sendeof()
        self.expect("exit")
        self.child.send("y")
        out = self.expect(pexpect.EOF)
        self.child.close()
        return out

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)

    def __enter__(self) -> Prompt:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
