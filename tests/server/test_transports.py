"""Which transports carry the connections: ``Server(transports=)``, ``--transports``, what ``auto`` takes.

Every async test in this folder runs on both transports (``conftest.py``); these check the choice itself: that
the transports a server reports are the ones its connections really have, and what happens where aiofastnet
is not installed.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from livews import Handler, Resource, Server
from livews.server.loops import loop_factory, run
from tests.server.support import serving, url
from tests.server.units import T

ROOT = Path(__file__).resolve().parents[2]


class Echo(Handler):
    def on_text(self, message: str) -> None:
        self.send_text(message)


def _package_of_transport(server: Server) -> str:
    """The top-level package of the transport class under the server's one client."""
    (client,) = server.clients()
    return type(client._session.transport).__module__.partition(".")[0]


async def test_the_connections_have_the_transports_the_server_reports(_transports: str) -> None:
    async with serving(Resource("/echo", Echo)) as server, connect(url(server, "/echo")) as ws:
        await ws.send("over which transports")
        assert await asyncio.wait_for(ws.recv(), T) == "over which transports"
        assert server.transports == _transports
        loop = type(asyncio.get_running_loop()).__module__.partition(".")[0]  # asyncio or uvloop
        assert _package_of_transport(server) == ("aiofastnet" if _transports == "aiofastnet" else loop)


def test_auto_takes_aiofastnet_on_asyncios_loop_and_uvloops_own_transports_on_uvloop() -> None:
    async def chosen() -> tuple[str, str]:
        server = Server([Resource("/echo", Echo)], port=0, ping_interval=None, transports="auto")
        assert server.transports == "auto"  # until started
        async with server, connect(url(server, "/echo")) as ws:
            await ws.send("auto")
            assert await asyncio.wait_for(ws.recv(), T) == "auto"
            return server.transports, _package_of_transport(server)

    assert run(chosen(), asyncio.new_event_loop) == ("aiofastnet", "aiofastnet")
    on_uvloop = loop_factory("uvloop")
    assert on_uvloop is not None
    assert run(chosen(), on_uvloop) == ("loop", "uvloop")


def test_an_unknown_transports_name_is_refused_when_the_server_is_made() -> None:
    with pytest.raises(ValueError, match="transports must be one of auto, loop, aiofastnet, not 'trio'"):
        Server([Resource("/echo", Echo)], transports="trio")


#: Runs the Python that follows in a process where ``import aiofastnet`` fails.
WITHOUT_AIOFASTNET = "import sys; sys.modules['aiofastnet'] = None\n"
#: ``python -m livews`` in such a process.
CLI_WITHOUT_AIOFASTNET = WITHOUT_AIOFASTNET + "from livews.cli import main\nsys.exit(main(sys.argv[1:]))"

_AUTO_WITHOUT_AIOFASTNET = textwrap.dedent(
    """
    import asyncio
    from livews import Handler, Resource, Server

    try:
        Server([Resource("/", Handler)], transports="aiofastnet")
    except ImportError as exc:
        print("REFUSED", exc)

    async def main():
        async with Server([Resource("/", Handler)], port=0, ping_interval=None) as server:
            print("SERVES ON", server.transports)

    asyncio.run(main())
    """
)


def test_without_aiofastnet_auto_serves_on_the_loops_own_and_asking_for_it_says_what_to_install() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", WITHOUT_AIOFASTNET + _AUTO_WITHOUT_AIOFASTNET],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=T,
    )
    assert proc.returncode == 0, proc.stderr
    assert "REFUSED transports='aiofastnet' needs aiofastnet: pip install 'livews[fast]'" in proc.stdout
    assert "SERVES ON loop" in proc.stdout


@pytest.mark.parametrize(
    ("launch", "transports", "expected"),
    [
        (["-m", "livews"], [], "loop"),
        (["-m", "livews"], ["--transports", "auto"], "aiofastnet"),
        (["-m", "livews"], ["--transports", "aiofastnet"], "aiofastnet"),
        (["-c", CLI_WITHOUT_AIOFASTNET], ["--transports", "auto"], "loop"),
    ],
    ids=["default", "transports auto", "transports aiofastnet", "auto without aiofastnet installed"],
)
def test_python_m_livews_serves_on_the_transports_asked_for(
    launch: list[str], transports: list[str], expected: str
) -> None:
    args = ["serve", "--no-reload", "--port", "0", "--handlers", str(ROOT / "handlers"), "-v", *transports]
    proc = subprocess.Popen(
        [sys.executable, *launch, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert proc.stderr is not None
        for _ in range(50):
            line = proc.stderr.readline()
            assert line, "the server exited"
            found = re.search(r"listening on .* \((\w+) transports\)", line)
            if found:
                assert found.group(1) == expected
                break
        else:
            raise AssertionError("no 'listening on' line")
    finally:
        proc.kill()
        proc.communicate(timeout=T)


def test_transports_aiofastnet_without_it_installed_exits_with_2_and_says_what_to_install() -> None:
    args = ["serve", "--no-reload", "--transports", "aiofastnet", "--port", "0"]
    proc = subprocess.run(
        [sys.executable, "-c", CLI_WITHOUT_AIOFASTNET, *args, "--handlers", str(ROOT / "handlers")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=T,
    )
    assert proc.returncode == 2
    assert "--transports aiofastnet needs aiofastnet (pip install 'livews[fast]')" in proc.stderr
