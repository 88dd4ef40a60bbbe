"""``python -m livews`` end to end: a real process, a real pseudo-terminal, real WebSocket clients."""

from __future__ import annotations

import re
import shutil
import signal
from pathlib import Path

import pexpect
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from .conftest import T, install
from .prompt import REPO, Prompt, plain, spawn_livews


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A project folder holding a copy of the repository's handlers/."""
    shutil.copytree(REPO / "handlers", tmp_path / "handlers")
    return tmp_path


def _closed_with(ws: object) -> int:
    with pytest.raises(ConnectionClosed) as info:
        ws.recv(timeout=T)  # type: ignore[attr-defined]
    assert info.value.rcvd is not None
    return info.value.rcvd.code


def test_the_banner_shows_the_urls_served_and_the_names_available(prompt: Prompt) -> None:
    assert f"{prompt.url}/echo" in prompt.banner and f"{prompt.url}/chat" in prompt.banner
    names = ("resources()", "clients(path=None)", "register(", "broadcast(", "kick(", "reload()", "help()")
    assert all(name in prompt.banner for name in names)
    out = prompt.run("help()")
    assert "unregister(path)" in out and "stop accepting new connections" in out


def test_the_prompt_sees_a_real_client_broadcasts_to_it_and_kicks_it(prompt: Prompt) -> None:
    with connect(f"{prompt.url}/echo?who=pty") as ws:
        ws.send("hello")
        assert ws.recv(timeout=T) == "hello"
        table = prompt.run("print(clients())")
        lines = [line for line in table.splitlines() if line.strip()]
        starts = [i for i, line in enumerate(lines) if line.startswith("id  host")]
        assert starts, table
        start = starts[0]
        header, _rule, row = lines[start : start + 3]
        assert header.split()[:5] == ["id", "host", "port", "path", "query"]  # one identifier: the id
        assert row.split()[3:5] == ["/echo", "who=pty"] and row.split()[-1] == "Echo"
        assert "1 client" in table
        out = prompt.run('print("sent to", broadcast("from the prompt"))')
        assert "sent to 1" in out
        assert ws.recv(timeout=T) == "from the prompt"
        prompt.run('kick(clients()[0].id, 4001, "bye from the prompt")')
        assert _closed_with(ws) == 4001
    out = prompt.run('print("left:", len(clients()))')
    assert "left: 0" in out
    prompt.leave()


def test_a_helper_error_at_the_prompt_is_the_real_error(prompt: Prompt) -> None:
    prompt.child.sendline('unregister("/" + "nowhere")')
    prompt.expect("KeyError")
    out = prompt.expect(">>>")
    assert "'/nowhere' is not served" in out
    out = prompt.run('print("still", "alive")')
    assert "still alive" in out


def test_a_statement_blocking_the_prompt_never_stalls_the_clients(prompt: Prompt) -> None:
    with connect(f"{prompt.url}/echo") as ws:
        prompt.child.sendline('line = input("BLOCK" + "ED>")')
        prompt.expect("BLOCKED>")
        for i in range(100):
            ws.send(str(i))
            assert ws.recv(timeout=T) == str(i)
        prompt.child.sendline("released")
        prompt.expect(">>>")
        assert "RELEASED" in prompt.run("print(line.upper())")


def test_leaving_the_prompt_closes_every_client_with_1001(prompt: Prompt) -> None:
    with connect(f"{prompt.url}/chat?name=a") as ws:
        out = prompt.leave()
        assert _closed_with(ws) == 1001
    assert "stopped." in out
    assert prompt.child.exitstatus == 0


def test_reload_end_to_end_same_connection_v1_v2_broken_v3_fixed(workdir: Path) -> None:
    handlers = workdir / "handlers"
    install("v1", handlers)
    with Prompt(workdir) as prompt:
        with connect(f"{prompt.url}/echo") as ws:
            ws.send("a")
            assert ws.recv(timeout=T) == "v1 a #1 h1"

            install("v2", handlers)
            line = prompt.expect(r"ms \(swap [0-9.]+ ms\)")
            assert "reloaded handlers/echo.py; changed Echo; 1 instance moved; kept history" in line
            ws.send("b")
            assert ws.recv(timeout=T) == "v2 B #2 h2 from=Echo"

            install("v3_syntax_error", handlers)
            out = prompt.expect("still running the previous version")
            assert f"reload failed: {handlers / 'echo.py'}:15: SyntaxError" in out
            prompt.expect(r"\^")  # the offending line is shown with a caret
            assert "def on_text(self, message)" in plain(prompt.child.before)
            ws.send("c")
            assert ws.recv(timeout=T) == "v2 C #3 h3 from=Echo"

            install("v4_fixed", handlers)
            line = prompt.expect(r"ms \(swap [0-9.]+ ms\)")
            assert "reloaded handlers/echo.py" in line and "1 instance moved" in line
            ws.send("d")
            assert ws.recv(timeout=T) == "v4 d #4 h4"
            out = prompt.run('print("reports:", [r.kind for r in server.reports])')
            assert "reports: ['load', 'load', 'reload', 'reload', 'reload']" in out
        prompt.leave()


def test_no_repl_serves_in_the_foreground_with_hot_reload(workdir: Path) -> None:
    handlers = workdir / "handlers"
    install("v1", handlers)
    child = spawn_livews(workdir, ["--no-repl", "--port", "0"])
    try:
        child.expect(r"ws://127\.0\.0\.1:(\d+)/chat")
        url = f"ws://127.0.0.1:{child.match.group(1)}"
        child.expect("Ctrl-C stops the server")
        with connect(f"{url}/echo") as ws:
            ws.send("x")
            assert ws.recv(timeout=T) == "v1 x #1 h1"
            install("v2", handlers)
            child.expect("reloaded handlers/echo.py; changed Echo; 1 instance moved")
            ws.send("y")
            assert ws.recv(timeout=T) == "v2 Y #2 h2 from=Echo"
            child.kill(signal.SIGINT)
            child.expect("stopping the server")
            assert _closed_with(ws) == 1001
        child.expect(pexpect.EOF)
    finally:
        if child.isalive():
            child.terminate(force=True)


def test_a_handler_written_at_the_prompt_is_registered_live(prompt: Prompt) -> None:
    prompt.run(
        'Up = type("Up", (Handler,), {"on_text": lambda self, m: self.send_text(m.upper())}); '
        'r = register("/up", Up)'
    )
    with connect(f"{prompt.url}/up") as ws:
        ws.send("shout")
        assert ws.recv(timeout=T) == "SHOUT"
        out = prompt.run("print(resources())")
        row = next(line for line in out.splitlines() if line.startswith("/up"))
        assert row.split() == ["/up", "Up", "1", "repl"]


def test_no_reload_turns_the_watcher_off(workdir: Path) -> None:
    with Prompt(workdir, "--no-reload") as prompt:
        assert "reload: off" in prompt.banner
        assert "watching off" in prompt.run('print("watching", stats()["watching"])')


def _fails_with(prompt: Prompt, statement: str, line: str) -> str:
    """Type a failing statement; return what it printed, up to the next prompt (``line`` included)."""
    prompt.child.sendline(statement)
    out = prompt.expect(re.escape(line))
    return out + line + prompt.expect(">>>")


@pytest.mark.parametrize(
    ("statement", "line"),
    [
        ('send(99, "x")', "LookupError: no client 99"),
        ("kick(99)", "LookupError: no client 99"),
        ('send("alice", "x")', "TypeError: give a client or its id (as in clients()), not 'alice'"),
        ('register("/bad", str)', "TypeError: str is not a Handler subclass"),
        ('register("/bad", 42)', "TypeError: 42 is not a class; give a Handler subclass"),
        ("register(Handler)", "TypeError: Handler has no @resource(path)"),
    ],
)
def test_a_helper_refusing_its_arguments_says_why_in_one_line(
    prompt: Prompt, statement: str, line: str
) -> None:
    out = _fails_with(prompt, statement, line)
    assert "Traceback" not in out and "File " not in out
    assert "/bad" not in prompt.run("print(resources())")


def test_an_error_in_user_code_run_by_a_helper_keeps_its_traceback(prompt: Prompt) -> None:
    prompt.run('Path = type("Path", (str,), {"__hash__": lambda self: int("not" + "-a-number")})')
    out = _fails_with(prompt, 'broadcast("x", Path("/echo"))', "not-a-number")
    assert "Traceback" in out and "<lambda>" in out


def test_register_takes_a_resource_marked_class_alone(prompt: Prompt) -> None:
    prompt.run(
        'Shout = resource("/shout", max_message_size=10)('
        'type("Shout", (Handler,), {"on_text": lambda self, m: self.send_text(m.upper())}))'
    )
    assert "registered /shout -> Shout" in prompt.run("print(register(Shout))")
    with connect(f"{prompt.url}/shout") as ws:
        ws.send("hey")
        assert ws.recv(timeout=T) == "HEY"
        ws.send("x" * 11)
        assert _closed_with(ws) == 1009  # the marked options came along


def test_reload_returns_a_report_that_prints_as_lines(prompt: Prompt) -> None:
    prompt.child.sendline("reload()")
    out = prompt.expect(r"reloaded handlers/echo\.py")
    out += prompt.expect(">>>")
    assert "reloaded handlers/chat.py" in out
    assert "ReloadReport(" not in out and "[" not in out


def test_a_server_log_line_prints_above_the_prompt_which_is_drawn_again(prompt: Prompt) -> None:
    prompt.run("server.debug_on_error = False")  # the handler's error closes its client (and logs)
    prompt.run('Bad = type("Bad", (Handler,), {"on_text": lambda self, m: 1 / 0}); r = register("/bad", Bad)')
    with connect(f"{prompt.url}/bad") as ws:
        ws.send("x")
        assert _closed_with(ws) == 1011
        prompt.expect("Bad.on_text raised; closing")
        prompt.expect("ZeroDivisionError")
        # Nothing typed: the prompt is redrawn below the log lines, so they were printed above it.
        prompt.expect(">>>")
    assert "alive" in prompt.run('print("al" + "ive")')
