"""The browser console in a real browser: Debian's chromium, headless, driven by Playwright (no download).

Each test opens the console page of a live server with the console on and acts like a person would: reads the
tables, opens connections to resources, sends, watches a reload. A screenshot of the page is written to
``tests/.artifacts/console.png`` (ignored by git) so a person can look at it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from livews.live import LiveServer

from .conftest import T
from .console_support import ECHO, console_server, handler_files, write

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")
expect = playwright_api.expect
ARTIFACTS = Path(__file__).resolve().parents[1] / ".artifacts"
MS = int(T * 1000)  # Playwright counts in milliseconds


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def handlers(tmp_path: Path) -> Path:
    return handler_files(tmp_path / "handlers")


@pytest.fixture
def server(handlers: Path) -> Iterator[LiveServer]:
    with console_server(handlers, reload_step_ms=20) as server:
        yield server


class Console:
    """One open console page, and every console message or page error it produced."""

    def __init__(self, browser: Any, url: str) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 1000})
        self.problems: list[str] = []
        self.page.on("console", lambda m: self.problems.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.problems.append(str(e)))
        self.page.goto(url)
        expect(self.page.locator("#status")).to_have_text("live", timeout=MS)

    def open_connection(self, path: str, query: str = "", subprotocol: str = "") -> Any:
        """Connect to ``path`` from the page's form; the new connection's card, once open."""
        before = self.page.locator(".conn-card").count()
        self.page.fill("#open-path", path)
        self.page.fill("#open-query", query)
        self.page.fill("#open-subprotocol", subprotocol)
        self.page.click("#open-form button[type=submit]")
        card = self.page.locator(f'.conn-card[data-conn="{before + 1}"]')
        expect(card.locator(".state")).to_contain_text("open", timeout=MS)
        return card

    @staticmethod
    def send(card: Any, text: str, *, as_json: bool = False) -> None:
        card.locator("input").fill(text)
        card.locator(".send-json" if as_json else ".send-text").click()

    def close(self) -> None:
        self.page.close()


@pytest.fixture
def console(browser: Any, server: LiveServer) -> Iterator[Console]:
    assert server.console_url is not None
    page = Console(browser, server.console_url)
    try:
        yield page
    finally:
        page.close()


def test_console_page_loads_without_errors_and_lists_the_served_resources(
    console: Console, server: LiveServer
) -> None:
    rows = console.page.locator("#resources tbody tr")
    expect(rows).to_have_count(3, timeout=MS)
    paths = sorted(console.page.locator("#resources tbody tr td:first-child").all_text_contents())
    assert paths == ["/boom", "/chat", "/echo"]
    chat = console.page.locator('#resources tr[data-path="/chat"]')
    expect(chat).to_contain_text("Chat")
    expect(chat).to_contain_text("handlers/chat.py")
    expect(chat).to_contain_text("subprotocols=chat.v1")
    assert console.problems == []


def test_console_connects_to_echo_sends_and_shows_the_echo_with_the_close_code(console: Console) -> None:
    card = console.open_connection("/echo", query="room=1")
    console.send(card, "hello <b>livews</b>")
    expect(card.locator(".log .in .text")).to_have_text("← hello <b>livews</b>", timeout=MS)  # shown as text
    assert card.locator(".log b").count() == 0
    console.send(card, '{"a": [1, 2]}', as_json=True)
    expect(card.locator(".log .in .text").nth(1)).to_have_text('← {"a":[1,2]}', timeout=MS)
    expect(console.page.locator("#clients tr[data-id] td:nth-child(4)")).to_have_text("room=1", timeout=MS)
    card.locator(".close").click()
    expect(card.locator(".state")).to_have_text("closed 1000", timeout=MS)
    times = card.locator(".log .time").all_text_contents()
    assert times and all(len(t) == 12 and t[2] == ":" for t in times)  # HH:MM:SS.mmm
    assert console.problems == []


def test_two_console_connections_to_chat_see_each_others_messages(console: Console) -> None:
    alice = console.open_connection("/chat", subprotocol="chat.v1")
    bob = console.open_connection("/chat")
    expect(alice.locator(".state")).to_have_text("open (subprotocol chat.v1)")
    console.send(alice, "hi from alice")
    expect(bob.locator(".log .in .text")).to_have_text("← hi from alice", timeout=MS)
    console.send(bob, "hi from bob")
    expect(alice.locator(".log .in .text")).to_have_text("← hi from bob", timeout=MS)
    assert console.problems == []


def test_an_outside_client_appears_in_the_clients_table_and_leaves_when_it_closes(
    console: Console, server: LiveServer
) -> None:
    rows = console.page.locator("#clients tbody tr[data-id]")
    expect(rows).to_have_count(0, timeout=MS)
    with connect(f"ws://127.0.0.1:{server.port}/echo?from=outside", open_timeout=T) as outside:
        outside.send("ping")
        outside.recv(timeout=T)
        (client,) = server.clients("/echo")
        row = console.page.locator(f'#clients tr[data-id="{client.id}"]')
        expect(row).to_contain_text("from=outside", timeout=MS)
        expect(row.locator("td:nth-child(7)")).to_have_text("1 / 1", timeout=MS)
        expect(console.page.locator('#resources tr[data-path="/echo"] .count')).to_have_text("1", timeout=MS)
    expect(rows).to_have_count(0, timeout=MS)
    assert console.problems == []


def test_a_saved_handler_file_shows_its_report_and_the_open_connection_gets_the_new_code(
    console: Console, handlers: Path
) -> None:
    card = console.open_connection("/echo")
    console.send(card, "one")
    expect(card.locator(".log .in .text")).to_have_text("← one", timeout=MS)
    write(handlers, "echo.py", ECHO.format(reply='"v2: " + message'))
    report = console.page.locator("#reports li").last
    expect(report).to_contain_text("reloaded handlers/echo.py; changed Echo", timeout=MS)
    expect(report).to_contain_text("1 instance moved")
    console.send(card, "two")
    expect(card.locator(".log .in .text").nth(1)).to_have_text("← v2: two", timeout=MS)
    write(handlers, "echo.py", ECHO.format(reply="message +"))
    failed = console.page.locator("#reports li.failed").last
    expect(failed).to_contain_text("reload failed", timeout=MS)
    expect(failed).to_contain_text("echo.py:7")
    assert console.problems == []


def test_console_buttons_kick_broadcast_reload_and_handler_errors_show(
    console: Console, server: LiveServer
) -> None:
    page = console.page
    chat = console.open_connection("/chat")
    page.locator('#resources tr[data-path="/chat"] input').fill("news for all")
    page.locator('#resources tr[data-path="/chat"] button').click()
    expect(chat.locator(".log .in .text")).to_have_text("← news for all", timeout=MS)
    expect(page.locator("#answer")).to_have_text("sent to 1 client of /chat")
    boom = console.open_connection("/boom")
    console.send(boom, "x")
    expect(boom.locator(".state")).to_have_text("closed 1011", timeout=MS)
    expect(page.locator("#errors li")).to_contain_text("RuntimeError: boom: x (", timeout=MS)
    expect(page.locator("#errors li")).to_contain_text("boom.py:7)")
    page.click("#reload")
    expect(page.locator("#answer")).to_have_text("reloaded 3 file(s)", timeout=MS)
    (client,) = server.clients("/chat")
    page.locator(f'#clients tr[data-id="{client.id}"] button').click()
    expect(chat.locator(".state")).to_have_text("closed 1000", timeout=MS)
    expect(chat.locator(".log li .text").last).to_have_text("closed: 1000 kicked from the console")
    expect(page.locator("#chart")).to_be_visible()
    # a few points on the chart (wait_for_function would evaluate a string, which the page's CSP forbids)
    for _ in range(int(T * 4)):
        if page.evaluate("state.history.length") >= 4:
            break
        page.wait_for_timeout(250)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console.png"), full_page=True)
    # the 1011 of /boom is expected in the browser's own log; nothing else is
    assert [p for p in console.problems if "1011" not in p] == []


def test_console_page_without_the_token_off_loopback_is_refused(browser: Any, handlers: Path) -> None:
    with console_server(handlers, console_trust_loopback=False) as server:
        assert server.console_url is not None
        page = browser.new_page()
        try:
            page.goto(server.console_url.split("?")[0])  # the page, but no token
            expect(page.locator("#status")).to_contain_text("refused or unreachable", timeout=MS)
            expect(page.locator("#status")).to_contain_text("?token=", timeout=MS)
            expect(page.locator("#resources tbody tr")).to_have_count(0)
            page.goto(server.console_url)
            expect(page.locator("#status")).to_have_text("live", timeout=MS)
        finally:
            page.close()
