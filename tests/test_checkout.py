"""The checkout itself: what a newcomer's clone and a packager see is consistent."""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

import pytest

import livews

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]


def test_gitignore_lists_no_tracked_file() -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tracked_but_ignored = subprocess.run(
        ["git", "ls-files", "--cached", "--ignored", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert tracked_but_ignored == []


def test_the_version_is_written_once_in_the_package() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project, setuptools = pyproject["project"], pyproject["tool"]["setuptools"]
    assert "version" not in project and "version" in project["dynamic"]
    assert setuptools["dynamic"]["version"] == {"attr": "livews.__version__"}
    # setuptools reads the attribute without importing the package only when it is a literal.
    tree = ast.parse((ROOT / "livews" / "__init__.py").read_text())
    [literal] = [
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["__version__"]
    ]
    assert isinstance(literal, ast.Constant) and literal.value == livews.__version__
