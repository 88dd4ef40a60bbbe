"""``--handlers`` names a folder or one file, and a path the command line cannot use is shown in full.

Real ``python -m livews serve`` processes and real clients.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from .conftest import T
from .prompt import REPO

SOURCE = """from livews import Handler, resource


@resource("{path}")
class Reply(Handler):
    def on_text(self, message):
        self.send_text("{reply} " + message)
"""


class Serve:
    """``python -m livews serve`` with its output read line by line."""

    def __init__(self, cwd: Path, *args: str) -> None:
        argv = [sys.executable, "-m", "livews", "serve", "--port", "0", "--no-console", "--no-attach", *args]
        env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=cwd, env=env)
        self.lines: list[str] = []
        self.base = self.wait_for("ws://").strip().rsplit("/", 1)[0]

    def wait_for(self, text: str) -> str:
        assert self.proc.stdout is not None
        for _ in range(200):
            line = self.proc.stdout.readline()
            assert line, f"the server ended before printing {text!r}: {self.lines}"
            self.lines.append(line)
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r}: {self.lines}")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(T)


def _ask(url: str, message: str) -> str:
    with connect(url, open_timeout=T) as ws:
        ws.send(message)
        answer = ws.recv(timeout=T)
        assert isinstance(answer, str)
        return answer


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    handlers = tmp_path / "handlers"
    handlers.mkdir()
    (handlers / "one.py").write_text(SOURCE.format(path="/one", reply="v1"))
    (handlers / "other.py").write_text(SOURCE.format(path="/other", reply="other"))
    return handlers


@pytest.fixture
def one_file(folder: Path) -> Iterator[Serve]:
    server = Serve(folder.parent, "--handlers", str(folder / "one.py"))
    try:
        yield server
    finally:
        server.close()


def test_handlers_given_one_file_serves_and_reloads_that_file_only(one_file: Serve, folder: Path) -> None:
    assert f"reload: watching {folder / 'one.py'}" in one_file.wait_for("reload:")
    assert _ask(f"{one_file.base}/one", "hi") == "v1 hi"
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{one_file.base}/other", open_timeout=T)
    assert refused.value.response.status_code == 404  # the sibling file is not served

    # a save of a sibling file is ignored
    (folder / "other.py").write_text(SOURCE.format(path="/other", reply="other2"))
    time.sleep(0.3)
    (folder / "one.py").write_text(SOURCE.format(path="/one", reply="v2"))
    one_file.wait_for("reloaded handlers/one.py")
    assert _ask(f"{one_file.base}/one", "hi") == "v2 hi"
    assert not [line for line in one_file.lines if "other.py" in line]
    with pytest.raises(InvalidStatus):
        connect(f"{one_file.base}/other", open_timeout=T)


def test_handlers_given_one_file_works_without_reload_too(folder: Path) -> None:
    server = Serve(folder.parent, "--no-reload", "--handlers", str(folder / "one.py"))
    try:
        assert _ask(f"{server.base}/one", "hi") == "v1 hi"
        with pytest.raises(InvalidStatus):
            connect(f"{server.base}/other", open_timeout=T)
    finally:
        server.close()


@pytest.mark.parametrize("mode", [[], ["--no-reload"]], ids=["live", "plain"])
def test_a_missing_handlers_path_is_shown_in_full_with_what_to_do(tmp_path: Path, mode: list[str]) -> None:
    argv = [sys.executable, "-m", "livews", "serve", "--port", "0", *mode, "--handlers", "handlerz"]
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60)
    assert done.returncode == 2
    assert f"no handler folder or file at {tmp_path / 'handlerz'}" in done.stderr
    assert "--handlers" in done.stderr
