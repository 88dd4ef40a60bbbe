"""livews on uvloop: the normal API under ``uvloop``'s loop, and ``python -m livews --loop uvloop``.

Every async test in this folder also runs on uvloop (``conftest.py``); these check what is specific to it:
that the loop in use is really uvloop's, in the test and in the processes ``python -m livews`` starts.
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.sync.client import connect as connect_sync

from livews import Handler, Resource
from tests.server.support import serving, url
from tests.server.units import T

uvloop = pytest.importorskip("uvloop")

ROOT = Path(__file__).resolve().parents[2]

#: A handler file that answers with the module of the event loop serving it (``/loop``), and of the loop the
#: process's event loop policy makes (``/policy``): uvloop is chosen by factory, the policy is left alone
#: (policies are deprecated from Python 3.14).
LOOP_HANDLER = textwrap.dedent(
    """
    import asyncio

    from livews import Handler, resource


    @resource("/loop")
    class Loop(Handler):
        def on_text(self, message):
            self.send_text(f"{type(asyncio.get_running_loop()).__module__}: {message}")


    @resource("/policy")
    class Policy(Handler):
        def on_text(self, message):
            made = asyncio.new_event_loop()  # what the process's event loop policy makes
            made.close()
            self.send_text(type(made).__module__)
    """
)


class Echo(Handler):
    def on_text(self, message: str) -> None:
        self.send_text(message)

    def on_binary(self, payload: bytes) -> None:
        self.send_binary(payload)


@pytest.mark.asyncio(loop_factories=["uvloop"])
async def test_on_uvloop_the_handshake_completes_and_messages_echo() -> None:
    assert isinstance(asyncio.get_running_loop(), uvloop.Loop)
    async with serving(Resource("/echo", Echo)) as server, connect(url(server, "/echo")) as ws:
        await ws.send("text on uvloop")
        assert await asyncio.wait_for(ws.recv(), T) == "text on uvloop"
        await ws.send(b"\x00binary")
        assert await asyncio.wait_for(ws.recv(), T) == b"\x00binary"
        assert len(server.clients("/echo")) == 1


@pytest.fixture
def handlers(tmp_path: Path) -> Path:
    folder = tmp_path / "handlers"
    folder.mkdir()
    (folder / "loop.py").write_text(LOOP_HANDLER)
    return folder


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test starts; any still running at the end is killed."""
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for proc in processes:
        if proc.poll() is None:
            proc.kill()
        proc.wait(T)


def _first_url(proc: subprocess.Popen[str]) -> str:
    """The ``ws://host:port`` of the first URL the process prints."""
    assert proc.stdout is not None
    for _ in range(50):
        line = proc.stdout.readline()
        assert line, f"the server exited: {proc.stderr.read() if proc.stderr else ''}"
        found = re.match(r"(ws://127\.0\.0\.1:\d+)", line.strip())
        if found:
            return found.group(1)
    raise AssertionError("no URL printed")


@pytest.mark.parametrize(
    "command",
    [
        ["serve", "--no-reload", "--loop", "uvloop"],
        ["serve", "--loop", "uvloop"],
        ["--no-repl", "--loop", "uvloop"],
        ["serve", "--no-reload", "--loop", "auto"],  # uvloop is installed here, so auto picks it
    ],
    ids=" ".join,
)
def test_python_m_livews_loop_uvloop_serves_on_uvloop_and_sets_no_loop_policy(
    command: list[str], handlers: Path, started: list[subprocess.Popen[str]]
) -> None:
    args = [*command, "--port", "0", "--handlers", str(handlers)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "livews", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    started.append(proc)
    base = _first_url(proc)
    with connect_sync(base + "/loop", open_timeout=T) as ws:
        ws.send("hello")
        assert ws.recv(timeout=T) == "uvloop: hello"
    with connect_sync(base + "/policy", open_timeout=T) as ws:
        ws.send("which")
        assert str(ws.recv(timeout=T)).startswith("asyncio.")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(T) == 0


#: Runs ``python -m livews`` with its arguments in a process where ``import uvloop`` fails.
WITHOUT_UVLOOP = (
    "import sys; sys.modules['uvloop'] = None\nfrom livews.cli import main\nsys.exit(main(sys.argv[1:]))"
)


def test_loop_uvloop_without_uvloop_installed_exits_with_2_and_says_what_to_install(handlers: Path) -> None:
    args = ["serve", "--no-reload", "--loop", "uvloop", "--port", "0", "--handlers", str(handlers)]
    proc = subprocess.run(
        [sys.executable, "-c", WITHOUT_UVLOOP, *args], capture_output=True, text=True, cwd=ROOT, timeout=T
    )
    assert proc.returncode == 2
    assert "pip install 'livews[uvloop]'" in proc.stderr


@pytest.mark.parametrize(
    ("launch", "loop"),
    [(["-m", "livews"], "asyncio"), (["-c", WITHOUT_UVLOOP], "auto")],
    ids=["loop asyncio", "loop auto without uvloop installed"],
)
def test_python_m_livews_serves_on_asyncio_when_asked_or_when_uvloop_is_missing(
    launch: list[str], loop: str, handlers: Path, started: list[subprocess.Popen[str]]
) -> None:
    args = ["serve", "--no-reload", "--loop", loop, "--port", "0", "--handlers", str(handlers)]
    proc = subprocess.Popen([sys.executable, *launch, *args], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    started.append(proc)
    with connect_sync(_first_url(proc) + "/loop", open_timeout=T) as ws:
        ws.send("hello")
        answer = ws.recv(timeout=T)
        assert isinstance(answer, str) and answer.startswith("asyncio.") and answer.endswith(": hello")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(T) == 0


def test_the_prompt_with_loop_uvloop_serves_on_uvloop(handlers: Path) -> None:
    from tests.live.prompt import Prompt

    with Prompt(handlers.parent, "--loop", "uvloop") as prompt:
        with connect_sync(prompt.url + "/loop", open_timeout=T) as ws:
            ws.send("from the prompt")
            assert ws.recv(timeout=T) == "uvloop: from the prompt"
        prompt.leave()


def test_loop_factory_makes_the_named_loop_and_run_uses_it() -> None:
    from livews.server.loops import loop_factory, run

    async def running() -> str:
        return type(asyncio.get_running_loop()).__module__

    factory = loop_factory("uvloop")
    assert factory is not None and run(running(), factory) == "uvloop"
    assert run(running(), loop_factory("asyncio") or uvloop.new_event_loop).startswith("asyncio.")
    with pytest.raises(ValueError, match="no event loop named 'trio'"):
        loop_factory("trio")
