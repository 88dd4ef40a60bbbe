"""``python -m livews attach`` end to end: a real ``serve`` process, prompts in real ptys, real clients."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
from websockets.sync.client import connect

from .conftest import T
from .prompt import REPO, Serve, attach, plain, spawn_livews


@pytest.fixture
def serve(tmp_path: Path, runtime: Path) -> Iterator[Serve]:
    shutil.copytree(REPO / "handlers", tmp_path / "handlers")
    server = Serve(tmp_path, runtime)
    try:
        yield server
    finally:
        server.close()


def test_an_attached_prompt_sees_clients_registers_a_class_and_finds_it_after_detaching(
    serve: Serve, tmp_path: Path, runtime: Path
) -> None:
    with attach(tmp_path, runtime) as prompt:
        assert prompt.port == serve.port
        assert "Ctrl-D or exit() detaches" in prompt.banner
        with connect(f"{serve.url}/echo?who=pty") as ws:
            ws.send("hi")
            assert ws.recv(timeout=T) == "hi"
            table = prompt.run("print(clients())")
            row = next(line for line in table.splitlines() if "/echo" in line and "who=pty" in line)
            assert row.split()[-1] == "Echo"
            assert "1 client" in table
        prompt.run("import os")
        prompt.run(
            "class Up(Handler): on_text = lambda self, m: self.send_text(f'{m.upper()} from {os.getpid()}')"
        )
        out = prompt.run('print(register("/up", Up))')
        assert "registered /up -> Up" in out
        with connect(f"{serve.url}/up") as ws:
            ws.send("shout")
            assert ws.recv(timeout=T) == f"SHOUT from {serve.child.pid}"  # served by the serve process
            out = prompt.leave()
            assert "detached; the server keeps running" in out
            assert prompt.child.exitstatus == 0
            ws.send("still")
            assert ws.recv(timeout=T) == f"STILL from {serve.child.pid}"
        again = attach(tmp_path, runtime, "--port", str(serve.port))
        try:
            assert "/up    Up  (repl)" in again.banner
            out = again.run('print("found", [r.handler.__name__ for r in resources() if r.path == "/up"])')
            assert "found ['Up']" in out
            out = again.run('print("Up" in dir())')  # each prompt has its own namespace
            assert "False" in out
        finally:
            again.close()


def test_two_prompts_attach_at_once_and_a_long_statement_holds_up_only_its_own(
    serve: Serve, tmp_path: Path, runtime: Path
) -> None:
    first, second = attach(tmp_path, runtime), attach(tmp_path, runtime)
    try:
        first.run("import builtins, threading; builtins.gate = threading.Event(); mine = 1")
        first.child.sendline(f'print("waited", gate.wait({T}))')
        with connect(f"{serve.url}/echo") as ws:
            for i in range(20):
                ws.send(str(i))
                assert ws.recv(timeout=T) == str(i)
            assert "False" in second.run('print("mine" in dir())')
            second.run("gate.set()")
        first.expect("waited True")
        first.expect(">>>")
        assert "still 1" in first.run('print("still", mine)')
    finally:
        first.close()
        second.close()


def test_the_socket_is_private_and_removed_when_serve_stops(serve: Serve) -> None:
    mode = os.stat(serve.socket).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
    assert stat.S_IMODE(os.stat(serve.socket.parent).st_mode) == 0o700
    serve.child.kill(signal.SIGTERM)
    serve.child.expect(pexpect.EOF)
    serve.child.close()
    assert not serve.socket.exists()


def test_a_socket_left_by_a_killed_server_is_cleaned_and_attach_says_none_runs(
    serve: Serve, tmp_path: Path, runtime: Path
) -> None:
    serve.child.kill(signal.SIGKILL)
    serve.child.expect(pexpect.EOF)
    serve.child.close()
    assert serve.socket.exists()
    env = dict(os.environ, PYTHONPATH=str(REPO), XDG_RUNTIME_DIR=str(runtime))
    out, status = pexpect.run(
        f"{sys.executable} -m livews attach",
        cwd=str(tmp_path),
        env=env,
        withexitstatus=True,
        timeout=T,
        encoding="utf-8",
    )
    assert status == 1
    assert "no livews server of this user is running" in plain(out)
    assert not serve.socket.exists()


def test_exit_at_an_attached_prompt_detaches_and_attaching_again_works(
    serve: Serve, tmp_path: Path, runtime: Path
) -> None:
    with attach(tmp_path, runtime) as prompt:
        prompt.child.sendline("exit()")
        prompt.expect("detached; the server keeps running")
        prompt.expect(pexpect.EOF)
    assert serve.child.isalive()
    again = attach(tmp_path, runtime)
    try:
        assert "pong" in again.run('print("p" + "ong")')
    finally:
        again.close()


def test_completion_at_an_attached_prompt_asks_the_server(
    serve: Serve, tmp_path: Path, runtime: Path
) -> None:
    with attach(tmp_path, runtime) as prompt:
        prompt.run("served_only_there = 42")
        prompt.child.send("served_only_th")
        prompt.expect("served_only_th")  # the typed part, echoed
        prompt.child.send("\t")
        prompt.expect("ere")  # the rest, once the server's answer came (Enter before it runs the prefix)
        prompt.child.sendline("")
        prompt.expect("42")


def test_an_attached_prompt_shows_a_helper_refusal_in_one_line_and_ctrl_c_stops_a_statement(
    serve: Serve, tmp_path: Path, runtime: Path
) -> None:
    with attach(tmp_path, runtime) as prompt:
        prompt.child.sendline('send(99, "x")')
        out = prompt.expect("LookupError: no client 99")
        assert "Traceback" not in out
        prompt.expect(">>>")
        prompt.run("import itertools")
        # Runs forever in the server process, once it said so.
        prompt.child.sendline('print("spin" + "ning"); any(False for _ in itertools.count())')
        prompt.expect("spinning")
        prompt.child.sendintr()
        prompt.expect("KeyboardInterrupt")
        prompt.expect(">>>")
        assert "still here" in prompt.run('print("still", "here")')
        with connect(f"{serve.url}/echo") as ws:
            ws.send("after")
            assert ws.recv(timeout=T) == "after"


def test_an_attached_prompt_says_so_when_the_server_stops(
    serve: Serve, tmp_path: Path, runtime: Path
) -> None:
    with attach(tmp_path, runtime) as prompt:
        serve.child.kill(signal.SIGTERM)
        serve.child.expect(pexpect.EOF)
        prompt.child.sendline('print("any" + "one")')
        prompt.expect("the server went away")
        prompt.expect(pexpect.EOF)
        prompt.child.close()
        assert prompt.child.exitstatus == 1


def test_serve_no_attach_opens_no_socket(tmp_path: Path, runtime: Path) -> None:
    shutil.copytree(REPO / "handlers", tmp_path / "handlers")
    child = spawn_livews(tmp_path, ["serve", "--port", "0", "--no-attach"], {"XDG_RUNTIME_DIR": str(runtime)})
    try:
        child.expect("Ctrl-C stops the server")
        out = plain(child.before)
        assert "attach:" not in out
        assert not list(runtime.glob("livews/*.sock"))
    finally:
        child.terminate(force=True)
