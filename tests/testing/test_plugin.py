"""The pytest plugin, run by pytest itself in a temporary project (``pytester``).

The fixtures must reach a user's tests with no import: through the ``pytest11`` entry point of the installed
distribution. An editable install made before that entry point existed lacks it, so the first test installs
the entry point exactly as ``pyproject.toml`` declares it (a ``.dist-info`` on ``PYTHONPATH``) and runs pytest
in a subprocess, where plugin discovery is pytest's own.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import tomllib

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]

USER_TESTS = """
import socket

from livews import Handler, resource
from livews.testing import connect

PORTS = []


@resource("/echo")
class Echo(Handler):
    def on_text(self, message):
        self.send_text(message)


async def test_echo(livews_server):
    server = await livews_server(Echo, path="/echo")
    PORTS.append(server.port)
    async with connect(server, "/echo") as ws:
        await ws.send_text("hi")
        assert await ws.receive_text() == "hi"


def test_the_server_of_the_previous_test_was_closed():
    (port,) = PORTS
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


async def test_live_edit(livews_live_edit):
    edit = await livews_live_edit({"echo.py": "from livews import Handler, resource\\n"})
    report = await edit.save("echo.py", "from livews import Handler, resource\\nX = 1\\n")
    assert report.ok
"""


def _declared_entry_point() -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    (name, target), *_ = project["entry-points"]["pytest11"].items()
    return f"{name} = {target}"


def _user_project(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_user=USER_TESTS)


def test_pyproject_declares_the_plugin_as_a_pytest11_entry_point() -> None:
    assert _declared_entry_point() == "livews = livews.testing.plugin"


def test_fixtures_reach_user_tests_through_the_entry_point_with_no_import(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    dist = site / "livews_entry_point_check-0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: livews-entry-point-check\nVersion: 0\n")
    (dist / "entry_points.txt").write_text(f"[pytest11]\n{_declared_entry_point()}\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), str(site)]))
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    _user_project(pytester)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    result.assert_outcomes(passed=3)


def test_fixtures_reach_user_tests_with_the_plugin_named_in_the_arguments(pytester: pytest.Pytester) -> None:
    _user_project(pytester)
    # "no:livews" keeps an installed entry point from registering the same module a second time.
    result = pytester.runpytest("-p", "no:livews", "-p", "livews.testing.plugin", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_without_the_plugin_the_fixtures_do_not_exist(pytester: pytest.Pytester) -> None:
    """The check above is not vacuous: the same project fails when the plugin is blocked."""
    _user_project(pytester)
    result = pytester.runpytest("-p", "no:livews", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=0, errors=2, failed=1)


def test_the_readme_example_test_file_passes(pytester: pytest.Pytester) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("# tests/test_chat.py\n")
    source = readme[start : readme.index("```", start)]
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_chat=source)
    result = pytester.runpytest("-p", "no:livews", "-p", "livews.testing.plugin", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


def test_loading_the_plugin_imports_neither_the_server_nor_the_live_layer() -> None:
    """pytest loads the plugin in every project where livews is installed: that must stay cheap."""
    import subprocess
    import sys

    code = (
        "import sys, livews.testing.plugin\n"
        "names = ('livews.server', 'livews.live', 'watchfiles', 'websockets')\n"
        "print(','.join(m for m in names if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT, timeout=60
    )
    assert out.stdout.strip() == ""
