"""The browser console's backend, driven by a real ``websockets`` client and raw HTTP: its files and headers,
who its socket admits (Origin, loopback, token), what it pushes and what its actions do, where it is on.

The page itself is driven in a real browser in ``test_console_browser.py``.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from livews.engine.handshake import Headers
from livews.live import LiveServer

from .conftest import T
from .console_support import ECHO, console_server, handler_files, write


@pytest.fixture
def handlers(tmp_path: Path) -> Path:
    return handler_files(tmp_path / "handlers")


def console_socket(server: LiveServer, *, query: str = "", origin: str | None = None) -> ClientConnection:
    headers = {"Origin": origin} if origin is not None else None
    url = f"ws://127.0.0.1:{server.port}/_livews/ws{query}"
    return connect(url, additional_headers=headers, open_timeout=T)


def receive_until(ws: ClientConnection, kind: str, check: Any = None) -> dict[str, Any]:
    """The next message of ``kind`` (for which ``check(message)`` holds), skipping the others."""
    for _ in range(200):
        message = json.loads(ws.recv(timeout=T))
        if message["type"] == kind and (check is None or check(message)):
            return message  # type: ignore[no-any-return]
    raise AssertionError(f"no {kind} message")


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=T) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


# ------------------------------------------------------------------------------------------ the files


def test_console_files_are_served_with_a_strict_content_security_policy(handlers: Path) -> None:
    with console_server(handlers) as server:
        base = f"http://127.0.0.1:{server.port}/_livews/"
        for name, kind in (("", "text/html"), ("console.js", "text/javascript"), ("console.css", "text/css")):
            status, headers, body = fetch(base + name)
            assert status == 200 and headers["Content-Type"].startswith(kind) and body
            csp = headers["Content-Security-Policy"]
            assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe" not in csp
            assert headers["X-Frame-Options"] == "DENY"
        page = fetch(base)[2].decode()
        assert '<script src="console.js"' in page and "http" not in page.replace('"https:"', "")


def test_console_script_never_writes_html_from_data() -> None:
    script = (Path(__file__).resolve().parents[2] / "livews/live/console_static/console.js").read_text()
    assert "innerHTML" not in script and "outerHTML" not in script and "insertAdjacentHTML" not in script
    assert "eval(" not in script and "document.write" not in script


def test_console_is_off_by_default_for_a_live_server_in_code(handlers: Path) -> None:
    with console_server(handlers, console=False) as server:
        assert server.console_url is None
        assert fetch(f"http://127.0.0.1:{server.port}/_livews/")[0] == 404


def test_console_path_is_configurable(handlers: Path) -> None:
    with console_server(handlers, console="/ops") as server:
        assert server.console_url is not None and "/ops/?token=" in server.console_url
        assert fetch(f"http://127.0.0.1:{server.port}/ops/")[0] == 200
        assert fetch(f"http://127.0.0.1:{server.port}/_livews/")[0] == 404
        with connect(f"ws://127.0.0.1:{server.port}/ops/ws", open_timeout=T) as ws:
            assert json.loads(ws.recv(timeout=T))["type"] == "hello"


def test_console_refuses_a_path_a_resource_uses(tmp_path: Path) -> None:
    folder = handler_files(tmp_path / "handlers")
    write(folder, "clash.py", ECHO.format(reply="message").replace('"/echo"', '"/_livews/ws"'))
    server = LiveServer(folder, port=0, call_timeout=T, watch_livews=False, console=True)
    with pytest.raises(ValueError, match=r"console's path '/_livews/' is used by the resource '/_livews/ws'"):
        server.start(timeout=T)
    with console_server(folder, console="/elsewhere/") as moved:  # moved out of the way, it starts
        assert "/_livews/ws" in [r.path for r in moved.resources()]


# --------------------------------------------------------------------------------------- protection


def test_console_socket_refuses_a_foreign_origin_with_403(handlers: Path) -> None:
    with console_server(handlers) as server:
        with pytest.raises(InvalidStatus) as refused:
            console_socket(server, origin="http://evil.example")
        assert refused.value.response.status_code == 403
        own = f"http://127.0.0.1:{server.port}"
        with console_socket(server, origin=own) as ws:
            assert json.loads(ws.recv(timeout=T))["type"] == "hello"


def test_console_socket_refuses_a_wrong_token_with_403(handlers: Path) -> None:
    with console_server(handlers) as server:
        with pytest.raises(InvalidStatus) as refused:
            console_socket(server, query="?token=nope")
        assert refused.value.response.status_code == 403


def test_console_socket_off_loopback_needs_the_token(handlers: Path) -> None:
    """``console_trust_loopback=False`` is the server seen from elsewhere: every peer needs the token."""
    with console_server(handlers, console_trust_loopback=False) as server:
        with pytest.raises(InvalidStatus) as refused:
            console_socket(server)  # refused at the handshake: never a connection
        assert refused.value.response.status_code == 403
        assert server.console is not None
        with console_socket(server, query=f"?token={server.console.token}") as ws:
            assert json.loads(ws.recv(timeout=T))["type"] == "hello"


def test_console_refuses_a_peer_off_loopback_at_the_handshake_with_403(handlers: Path) -> None:
    """A trusted proxy on loopback reports a client elsewhere: that client, not the proxy, is checked."""
    with console_server(handlers, trusted_proxies=["127.0.0.1"]) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=T) as raw:
            raw.sendall(
                (
                    "GET /_livews/ws HTTP/1.1\r\n"
                    f"Host: 127.0.0.1:{server.port}\r\nX-Forwarded-For: 192.0.2.7\r\n"
                    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
                ).encode()
            )
            answer = raw.recv(4096)
        assert answer.startswith(b"HTTP/1.1 403"), answer[:40]
        assert server.clients() == []
        assert server.console is not None
        with console_socket(server, query=f"?token={server.console.token}") as ws:  # the token still opens it
            assert json.loads(ws.recv(timeout=T))["type"] == "hello"


def test_console_admits_loopback_peers_and_knows_other_peers_need_the_token(handlers: Path) -> None:
    with console_server(handlers) as server:
        console = server.console
        assert console is not None

        def admits(peer: str, query: str = "", asked: str = "127.0.0.1:8765") -> bool:
            return console.admits(peer, query, Headers([("Host", asked)]))

        assert admits("127.0.0.1") and admits("::1", asked="[::1]:8765")
        assert admits("127.0.0.1", asked="localhost:8765")
        assert not admits("192.0.2.7")
        assert admits("192.0.2.7", f"token={console.token}")


def test_console_refuses_a_loopback_peer_that_asked_another_name_dns_rebinding(handlers: Path) -> None:
    """A page of evil.example re-pointed at 127.0.0.1: same-origin to itself, on loopback, but not ours."""
    with console_server(handlers) as server:
        asked = f"evil.example:{server.port}"
        with socket.create_connection(("127.0.0.1", server.port), timeout=T) as raw:
            raw.sendall(
                (
                    "GET /_livews/ws HTTP/1.1\r\n"
                    f"Host: {asked}\r\nOrigin: http://{asked}\r\n"
                    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
                ).encode()
            )
            answer = raw.recv(4096)
        assert answer.startswith(b"HTTP/1.1 403"), answer[:40]  # refused at the handshake


# ------------------------------------------------------------------------------------- what it tells


def test_console_socket_says_hello_with_resources_clients_and_history(handlers: Path) -> None:
    with console_server(handlers) as server, console_socket(server) as ws:
        hello = json.loads(ws.recv(timeout=T))
        rows = {r["path"]: r for r in hello["resources"]}
        assert set(rows) == {"/echo", "/chat", "/boom"}
        assert rows["/chat"]["class"] == "Chat" and rows["/chat"]["file"] == "handlers/chat.py"
        assert rows["/chat"]["options"]["subprotocols"] == ["chat.v1"]
        assert sorted((r["kind"], r["source"]) for r in hello["reports"]) == [
            ("load", "handlers/boom.py"),
            ("load", "handlers/chat.py"),
            ("load", "handlers/echo.py"),
        ]
        with connect(f"ws://127.0.0.1:{server.port}/echo?x=1", open_timeout=T) as outside:
            outside.send("hi")
            outside.recv(timeout=T)
            tick = receive_until(ws, "tick", lambda m: m["clients"])
            (row,) = tick["clients"]
            assert (row["path"], row["query"], row["messages_in"]) == ("/echo", "x=1", 1)
            assert tick["point"]["connections"] == 1


def test_console_socket_pushes_reload_reports_with_file_and_line_of_a_failure(handlers: Path) -> None:
    with console_server(handlers, reload_step_ms=20) as server, console_socket(server) as ws:
        json.loads(ws.recv(timeout=T))
        write(handlers, "echo.py", ECHO.format(reply='"v2:" + message'))
        report = receive_until(ws, "report")["entry"]
        assert report["ok"] and report["kind"] == "reload" and "Echo" in report["changed"]
        write(handlers, "echo.py", ECHO.format(reply="message +"))
        failed = receive_until(ws, "report")["entry"]
        assert not failed["ok"] and failed["where"].endswith("echo.py:7")


def test_console_socket_pushes_handler_errors_with_file_and_line(handlers: Path) -> None:
    with console_server(handlers) as server, console_socket(server) as ws:
        json.loads(ws.recv(timeout=T))
        with connect(f"ws://127.0.0.1:{server.port}/boom", open_timeout=T) as outside:
            outside.send("x")
            with pytest.raises(ConnectionClosed):
                outside.recv(timeout=T)
        error = receive_until(ws, "error")["entry"]
        assert error["error"] == "RuntimeError: boom: x" and error["where"] == "handlers/boom.py:7"
        assert error["path"] == "/boom"


# ------------------------------------------------------------------------------------- what it does


def command(ws: ClientConnection, **fields: Any) -> dict[str, Any]:
    ws.send(json.dumps(fields))
    return receive_until(ws, "answer")


def test_console_actions_kick_broadcast_and_reload(handlers: Path) -> None:
    with console_server(handlers) as server, console_socket(server) as ws:
        json.loads(ws.recv(timeout=T))
        with connect(f"ws://127.0.0.1:{server.port}/chat", open_timeout=T) as outside:
            answer = command(ws, action="broadcast", path="/chat", message="to all")
            assert answer["ok"] and answer["text"] == "sent to 1 client of /chat"
            assert outside.recv(timeout=T) == "to all"
            assert not command(ws, action="broadcast", path="/_livews/ws", message="x")["ok"]
            (client,) = server.clients("/chat")
            assert command(ws, action="kick", id=client.id, code=4001, reason="bye")["ok"]
            with pytest.raises(ConnectionClosed):
                outside.recv(timeout=T)
            assert (outside.close_code, outside.close_reason) == (4001, "bye")
        before = len(server.reports)
        answer = command(ws, action="reload")
        assert answer["ok"] and answer["text"] == "reloaded 3 file(s)"
        assert len(server.reports) == before + 3
        assert not command(ws, action="nonsense")["ok"]
        (itself,) = server.clients("/_livews/ws")  # console sockets are not the console's to kick
        assert not command(ws, action="kick", id=itself.id)["ok"]


def test_banner_of_python_m_livews_prints_the_console_url(handlers: Path) -> None:
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "livews", "serve", "--port", str(port), "--handlers", str(handlers)],
        cwd=handlers.parent,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        while len(lines) < 20 and not (lines and lines[-1].startswith(("reload:", "livews:"))):
            lines.append(proc.stdout.readline())
        (console,) = [line for line in lines if line.startswith("console: ")]
        url = console.split(" ", 1)[1].strip()
        assert url.startswith(f"http://127.0.0.1:{port}/_livews/?token=")
        assert fetch(url)[0] == 200
    finally:
        proc.terminate()
        proc.wait(T)


def test_python_m_livews_no_console_serves_no_console(handlers: Path) -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "livews", "serve", "--port", "0", "--no-console", "--handlers", str(handlers)],
        cwd=handlers.parent,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while len(lines) < 20 and not (lines and lines[-1].startswith(("reload:", "livews:"))):
            lines.append(proc.stdout.readline())
        assert lines[-1].startswith("reload:") and not [line for line in lines if "console" in line]
        url = next(line for line in lines if line.startswith("ws://"))
        port = int(url.split(":")[2].split("/")[0])  # ws://127.0.0.1:PORT/path
        assert fetch(f"http://127.0.0.1:{port}/_livews/")[0] == 404
    finally:
        proc.terminate()
        proc.wait(T)


def test_console_shows_only_the_handler_errors_of_its_own_server(handlers: Path, tmp_path: Path) -> None:
    other_handlers = handler_files(tmp_path / "other")
    with console_server(handlers) as mine, console_server(other_handlers) as other:
        with console_socket(mine) as ws:
            json.loads(ws.recv(timeout=T))
            for server, word in ((other, "theirs"), (mine, "mine")):
                with connect(f"ws://127.0.0.1:{server.port}/boom", open_timeout=T) as outside:
                    outside.send(word)
                    with pytest.raises(ConnectionClosed):
                        outside.recv(timeout=T)
            error = receive_until(ws, "error")["entry"]
            assert error["error"] == "RuntimeError: boom: mine"
        assert other.console is not None and mine.console is not None
        assert [e["error"] for e in mine.console.errors] == ["RuntimeError: boom: mine"]


def test_livews_start_serves_the_console_and_links_it_in_the_notebook_html() -> None:
    import livews

    srv = livews.start(port=0, quiet=True, key="console-test")
    try:
        url = srv.console_url
        assert url is not None and url.startswith(f"http://127.0.0.1:{srv.port}/_livews/?token=")
        assert f'<a href="{url}"' in srv._repr_html_()
        assert fetch(url)[0] == 200
    finally:
        livews.stop("console-test")


def test_prompt_banner_shows_the_console_url(handlers: Path) -> None:
    from livews.live.repl import banner

    with console_server(handlers) as server:
        assert f"console: {server.console_url}" in banner(server).splitlines()
    with console_server(handlers, console=False) as server:
        assert "console:" not in banner(server)


def test_a_later_file_with_a_resource_under_the_console_path_fails_to_load_and_old_code_runs_on(
    handlers: Path,
) -> None:
    with console_server(handlers, reload_step_ms=20) as server, console_socket(server) as ws:
        json.loads(ws.recv(timeout=T))
        index = server.report_count
        write(handlers, "late.py", ECHO.format(reply="message").replace('"/echo"', '"/_livews/late"'))
        report = server.wait_report(index, timeout=T)
        assert not report.ok and "/_livews/late is under the console's path /_livews/" in report.details()
        assert "/_livews/late" not in [r.path for r in server.resources()]
        entry = receive_until(ws, "report")["entry"]
        assert not entry["ok"] and "under the console's path" in entry["line"]

        # A served file that gains such a resource is refused whole: its old version keeps serving.
        index = server.report_count
        source = ECHO.format(reply="'v2 ' + message").replace('"/echo"', '"/echo2"')
        hidden = ECHO.format(reply="message").replace('"/echo"', '"/_livews/x"')
        source += hidden.replace("class Echo", "class X")
        write(handlers, "echo2.py", ECHO.format(reply="'v1 ' + message").replace('"/echo"', '"/echo2"'))
        assert server.wait_report(index, timeout=T).ok
        write(handlers, "echo2.py", source)
        report = server.wait_report(index + 1, timeout=T)
        assert not report.ok and "/_livews/x is under the console's path" in report.details()
        with connect(f"ws://127.0.0.1:{server.port}/echo2", open_timeout=T) as client:
            client.send("hi")
            assert client.recv(timeout=T) == "v1 hi"


def test_console_path_without_its_slash_redirects_keeping_the_token(handlers: Path) -> None:
    with console_server(handlers) as server:
        assert server.console is not None
        status, headers, _ = fetch_no_redirect(f"http://127.0.0.1:{server.port}/_livews?token=abc")
        assert (status, headers["Location"]) == (308, "/_livews/?token=abc")


def fetch_no_redirect(url: str) -> tuple[int, dict[str, str], bytes]:
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=T)
    try:
        conn.request("GET", f"{parts.path}?{parts.query}")
        answer = conn.getresponse()
        return answer.status, dict(answer.headers), answer.read()
    finally:
        conn.close()


def test_console_lists_at_most_max_rows_clients_and_says_how_many_there_are(handlers: Path) -> None:
    with console_server(handlers) as server:
        assert server.console is not None
        server.console.max_rows = 2
        url = f"ws://127.0.0.1:{server.port}/echo"
        with connect(url) as a, connect(url) as b, connect(url) as c, console_socket(server) as ws:
            hello = json.loads(ws.recv(timeout=T))
            assert len(hello["clients"]) == 2 and hello["clients_total"] == 3
            tick = receive_until(ws, "tick")
            assert len(tick["clients"]) == 2 and tick["clients_total"] == 3
            assert a and b and c
