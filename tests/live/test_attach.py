"""The attach server in this process: who may connect, where sockets live, what a session runs and answers."""

from __future__ import annotations

import io
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from livews.live import LiveServer
from livews.live.attach import AttachError, Peer, Wire, live_servers, peer_allowed, runtime_dir
from livews.live.attach_client import find_server
from livews.live.attach_server import AttachServer, complete, run_statement

from .conftest import T

NOBODY = 65534


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    return folder / "livews"


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory anyone may enter, to reach the peer check past the filesystem's own refusal."""
    with tempfile.TemporaryDirectory(prefix="livews-open-") as name:
        os.chmod(name, 0o755)
        yield Path(name)


@pytest.fixture
def prompts(live: LiveServer, runtime: Path) -> Iterator[AttachServer]:
    server = AttachServer(live).start()
    try:
        yield server
    finally:
        server.close()


def _greeting(path: Path) -> dict[str, object] | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(T)
    sock.connect(str(path))
    wire = Wire(sock)
    try:
        return wire.receive()
    finally:
        wire.close()


def test_only_the_same_user_or_root_may_attach() -> None:
    assert peer_allowed(Peer(1, 1000, 1000), own_uid=1000)
    assert peer_allowed(Peer(1, 0, 0), own_uid=1000)
    assert not peer_allowed(Peer(1, 1001, 1000), own_uid=1000)


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to connect as another user")
def test_a_prompt_of_another_user_is_refused_even_when_the_socket_is_reachable(
    live: LiveServer, open_dir: Path
) -> None:
    server = AttachServer(live, path=open_dir / "1.sock").start()
    try:
        os.chmod(server.path, 0o666)  # the filesystem would refuse first; take it out of the way
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: become nobody, connect, report what the server said
            status = 1
            try:
                os.close(read)
                os.setgid(NOBODY)
                os.setuid(NOBODY)
                reply = _greeting(server.path)
                os.write(write, repr(reply).encode())
                status = 0
            except BaseException as exc:
                os.write(write, repr(exc).encode())
            finally:
                os._exit(status)
        os.close(write)
        with os.fdopen(read) as answer:
            said = answer.read()
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, said
        assert "refused" in said and f"uid {NOBODY} may not attach" in said and "banner" not in said
        assert server.sessions == 0
        assert "banner" in str(_greeting(server.path))  # root (the same user here) is let in
    finally:
        server.close()


def test_the_runtime_directory_is_private_and_a_shared_one_is_refused(runtime: Path, tmp_path: Path) -> None:
    folder = runtime_dir()
    assert folder == runtime and (os.stat(folder).st_mode & 0o777) == 0o700
    os.chmod(folder, 0o755)
    with pytest.raises(AttachError, match="only uid"):
        runtime_dir()


def test_the_socket_is_0600_and_removed_on_close(prompts: AttachServer, live: LiveServer) -> None:
    assert prompts.path.name == f"{live.port}.sock"
    assert (os.stat(prompts.path).st_mode & 0o777) == 0o600
    prompts.close()
    assert not prompts.path.exists()


def test_a_stale_socket_is_replaced_at_start_and_a_live_one_is_not(live: LiveServer, runtime: Path) -> None:
    path = runtime_dir() / "7.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # bound, never listening: what a killed server leaves
    server = AttachServer(live, path=path).start()
    try:
        assert "banner" in str(_greeting(path))
        with pytest.raises(AttachError, match="another server"):
            AttachServer(live, path=path).start()
    finally:
        server.close()


def test_attach_without_a_port_picks_the_only_server_and_lists_several(
    live: LiveServer, runtime: Path
) -> None:
    with pytest.raises(AttachError, match="no livews server of this user is running"):
        find_server()
    first = AttachServer(live, path=runtime_dir() / "1111.sock").start()
    try:
        assert find_server() == first.path
        second = AttachServer(live, path=runtime_dir() / "2222.sock").start()
        try:
            assert set(live_servers()) == {1111, 2222}
            with pytest.raises(
                AttachError, match="2 livews servers are running; choose one: --port 1111, --port 2222"
            ):
                find_server()
            assert find_server(2222) == second.path
            with pytest.raises(
                AttachError, match="no livews server of this user accepts prompts on port 3333"
            ):
                find_server(3333)
        finally:
            second.close()
    finally:
        first.close()


def test_a_statement_shows_its_expression_prints_and_errors_like_the_prompt() -> None:
    ns: dict[str, object] = {"__name__": "__main__"}
    out, err = io.StringIO(), io.StringIO()
    assert run_statement("x = 20\nx * 2 + 2", ns, out, err) is False
    assert out.getvalue() == "42\n" and ns["_"] == 42
    run_statement("1/0", ns, out, err)
    assert "ZeroDivisionError: division by zero" in err.getvalue() and 'File "<attach>"' in err.getvalue()
    assert run_statement("exit()", {"__builtins__": __builtins__}, out, err) is True
    err.truncate(0)
    run_statement("def broken(:", ns, out, err)
    assert "SyntaxError" in err.getvalue()


def test_completion_reads_the_remote_namespace() -> None:
    ns = {"served_only_there": 1, "server": LiveServer}
    assert complete("print(served_o", ns) == ["served_only_there"]
    assert "server.stop" in complete("server.st", ns)
    assert complete("", ns) == []


def test_only_a_refusal_raised_inside_livews_prints_as_one_line(live: LiveServer) -> None:
    ns = {"live": live, "__name__": "__main__"}
    out, err = io.StringIO(), io.StringIO()
    run_statement('live.send(99, "x")', ns, out, err)
    assert err.getvalue() == "LookupError: no client 99\n"
    err = io.StringIO()
    run_statement('raise LookupError("mine")', ns, out, err)  # raised by the statement itself
    assert err.getvalue().startswith("Traceback") and "LookupError: mine" in err.getvalue()
