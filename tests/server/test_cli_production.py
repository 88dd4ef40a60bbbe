"""The command line for production: its name and version, TLS, timeouts, and ``LIVEWS_*`` variables."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from livews import __version__
from livews.cli import _parser, _server_options, main
from livews.testing import HandshakeRefused, connect

from .support import serve_process

ROOT = Path(__file__).resolve().parents[2]


def test_version_and_help_name_the_program_livews(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out == f"livews {__version__}\n"
    with pytest.raises(SystemExit):
        main(["--help"])
    assert capsys.readouterr().out.startswith("usage: livews ")


def test_timeouts_reach_the_server_and_a_zero_ping_interval_turns_keepalive_off() -> None:
    args = _parser().parse_args(["--ping-interval", "0", "--ping-timeout", "7", "--close-timeout", "2.5"])
    assert _server_options(args) == {"ping_interval": None, "ping_timeout": 7.0, "close_timeout": 2.5}
    assert _server_options(_parser().parse_args([])) == {}  # nothing given: the server's own defaults


def test_livews_environment_variables_set_defaults_and_the_command_line_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LIVEWS_PORT", "9001")
    monkeypatch.setenv("LIVEWS_METRICS", "true")
    monkeypatch.setenv("LIVEWS_PING_TIMEOUT", "4")
    monkeypatch.setenv("LIVEWS_NO_RELOAD", "0")
    monkeypatch.setenv("LIVEWS_VERBOSE", "2")
    args = _parser().parse_args([])
    assert (args.port, args.metrics, args.ping_timeout, args.no_reload, args.verbose) == (
        9001,
        True,
        4.0,
        False,
        2,
    )
    assert _parser().parse_args(["--port", "9002"]).port == 9002


def test_an_unloadable_certificate_stops_the_start_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.pem"
    argv = [sys.executable, "-m", "livews", "serve", "--no-reload", "--port", "0", "--certfile", str(missing)]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 2 and str(missing) in done.stderr


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    command = [
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
    ]
    command += ["-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)]
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    return cert, key


async def test_certfile_and_keyfile_serve_wss(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    async with serve_process("--certfile", str(cert), "--keyfile", str(key)) as (_, base):
        assert base.startswith("wss://127.0.0.1:")
        client_tls = ssl.create_default_context(cafile=str(cert))
        async with connect(base, "/echo", ssl=client_tls) as ws:
            await ws.send_text("over TLS")
            assert await ws.receive_text() == "over TLS"


async def test_max_connections_on_the_command_line_answers_503_past_it() -> None:
    async with serve_process("--max-connections", "1") as (_, base):
        async with connect(base, "/echo") as first:
            with pytest.raises(HandshakeRefused) as refused:
                async with connect(base, "/chat"):
                    pass
            assert refused.value.status == 503
            await first.send_text("still served")
            assert await first.receive_text() == "still served"
